package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// A Source loads a file or a directory as serve does; LoadChecked also
// refuses the files a config names but cannot use, a directory's client
// by client.
func TestSource(t *testing.T) {
	dir := t.TempDir()
	for name, data := range map[string][]byte{
		"good.yaml":    file(nil),
		"nofile.yaml":  file(map[int]string{1: "hosts: [b.client.com]"}, "origin_ca: missing.pem"),
		"broken.yaml":  file(map[int]string{2: "origin: ftp://x"}),
		"ignored.json": []byte("{}"),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	names := func(cfgs []*Config) []string {
		var out []string
		for _, c := range cfgs {
			out = append(out, c.Name())
		}
		return out
	}
	keys := func(m map[string]error) []string {
		var out []string
		for k := range m {
			out = append(out, k)
		}
		slices.Sort(out)
		return out
	}

	tests := []struct {
		name        string
		src         Source
		checked     bool
		wantCfgs    []string
		wantBroken  []string
		wantErrPart string
	}{
		{"zero", Source{}, true, nil, nil, ""},
		{"file", Source{File: filepath.Join(dir, "nofile.yaml")}, false, []string{"nofile"}, nil, ""},
		{"file checked", Source{File: filepath.Join(dir, "nofile.yaml")}, true, nil, nil, "nofile.yaml:7: origin_ca"},
		{"broken file", Source{File: filepath.Join(dir, "broken.yaml")}, false, nil, nil, "broken.yaml:2: origin"},
		{"dir", Source{Dir: dir}, false, []string{"good", "nofile"}, []string{"broken"}, ""},
		{"dir checked", Source{Dir: dir}, true, []string{"good"}, []string{"broken", "nofile"}, ""},
		{"missing dir", Source{Dir: filepath.Join(dir, "none")}, true, nil, nil, "reading config directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			load := tt.src.Load
			if tt.checked {
				load = tt.src.LoadChecked
			}
			cfgs, broken, err := load()
			if tt.wantErrPart != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErrPart) {
					t.Fatalf("err %v; want one containing %q", err, tt.wantErrPart)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := names(cfgs); !slices.Equal(got, tt.wantCfgs) {
				t.Errorf("configs %q; want %q", got, tt.wantCfgs)
			}
			if got := keys(broken); !slices.Equal(got, tt.wantBroken) {
				t.Errorf("broken %q; want %q", got, tt.wantBroken)
			}
		})
	}
}
