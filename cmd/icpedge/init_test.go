package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/icpedge/icpedge/config"
)

func TestInit(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "etc", "acme.yaml")
	args := []string{"init", "--name", "acme", "--host", "icp.acme.example", "--host", "www.acme.example",
		"--origin", "https://www.acme.com", "--icp", testICP, "--company", "示例科技有限公司",
		"--email", "ops@agency.example", "--admin", "127.0.0.1:9081", "--out", out}
	var stdout, stderr bytes.Buffer
	if code := run(args, &stdout, &stderr); code != 0 {
		t.Fatalf("init: exit %d: %s", code, stderr.String())
	}
	for _, want := range []string{
		"wrote " + out,
		"icp.acme.example.  A  ",
		"www.acme.example.  A  ",
		"systemctl enable --now icpedge@acme",
		"icpedge check --config " + out,
	} {
		mustContain(t, stdout.String(), want)
	}

	t.Run("round-trips through validate", func(t *testing.T) {
		var vout, verr bytes.Buffer
		if code := run([]string{"validate", "--config", out}, &vout, &verr); code != 0 {
			t.Fatalf("validate: exit %d: %s", code, verr.String())
		}
		cfg, err := config.Load(out)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(cfg.Hosts, ","); got != "icp.acme.example,www.acme.example" {
			t.Errorf("hosts %s; want both", got)
		}
		if cfg.Notice.ICP != testICP || cfg.Notice.Company != "示例科技有限公司" || cfg.TLS.Mode != "acme" ||
			cfg.TLS.Email != "ops@agency.example" || cfg.Admin.Listen != "127.0.0.1:9081" || cfg.Origin.String() != "https://www.acme.com" {
			t.Errorf("config %+v; want the flags' values", cfg)
		}
		if cfg.StateDir != "/var/lib/icpedge/acme" {
			t.Errorf("state_dir %s; want /var/lib/icpedge/acme, the unit's StateDirectory", cfg.StateDir)
		}
		fi, _ := os.Stat(out)
		if fi.Mode().Perm() != 0o640 {
			t.Errorf("mode %v; want 0640", fi.Mode().Perm())
		}
	})

	t.Run("refuses to overwrite", func(t *testing.T) {
		before, _ := os.ReadFile(out)
		var o, e bytes.Buffer
		again := append(append([]string{}, args...), "--icp", "沪ICP备87654321号-2")
		if code := run(again, &o, &e); code == 0 {
			t.Fatal("init overwrote an existing file")
		}
		mustContain(t, e.String(), "--force")
		if after, _ := os.ReadFile(out); !bytes.Equal(before, after) {
			t.Error("the existing file changed")
		}
		if code := run(append(again, "--force"), &o, &e); code != 0 {
			t.Fatalf("--force: exit %d: %s", code, e.String())
		}
		if after, _ := os.ReadFile(out); !strings.Contains(string(after), "沪ICP备87654321号-2") {
			t.Error("--force did not replace the file")
		}
	})

	t.Run("stdout", func(t *testing.T) {
		var o, e bytes.Buffer
		if code := run([]string{"init", "--name", "b", "--host", "b.example", "--origin", "http://b.example.net", "--icp", testICP, "--listen-https", "", "--out", "-"}, &o, &e); code != 0 {
			t.Fatalf("exit %d: %s", code, e.String())
		}
		cfg, err := config.Parse("b.yaml", o.Bytes())
		if err != nil {
			t.Fatalf("stdout is not a valid config: %v\n%s", err, o.String())
		}
		if cfg.TLS.Mode != "off" {
			t.Errorf("tls.mode %s; want off without --listen-https", cfg.TLS.Mode)
		}
		mustContain(t, e.String(), "systemctl enable --now icpedge@b")
	})

	t.Run("invalid values are reported, nothing written", func(t *testing.T) {
		bad := filepath.Join(dir, "bad.yaml")
		var o, e bytes.Buffer
		code := run([]string{"init", "--name", "bad", "--host", "bad.example", "--origin", "ftp://x", "--icp", "12345", "--out", bad}, &o, &e)
		if code == 0 {
			t.Fatal("init accepted an invalid config")
		}
		mustContain(t, e.String(), "notice.icp")
		mustContain(t, e.String(), "origin")
		if _, err := os.Stat(bad); err == nil {
			t.Error("a file was written")
		}
	})
}
