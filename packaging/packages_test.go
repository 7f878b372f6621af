// Package packaging holds the nfpm description of the icpedge .deb and .rpm
// (nfpm.yaml), the script that builds them (build), and the test that builds
// both and checks what they install.
package packaging

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// want is what both packages must install.
var want = []string{
	"/usr/bin/icpedge",
	"/usr/lib/systemd/system/icpedge@.service",
	"/usr/lib/systemd/system/icpedge.service",
	"/usr/lib/sysusers.d/icpedge.conf",
	"/usr/lib/tmpfiles.d/icpedge.conf",
	"/usr/share/doc/icpedge/example.yaml",
	"/usr/share/doc/icpedge/copyright",
	"/usr/share/doc/icpedge/third-party-licenses",
	"/etc/icpedge",
	"/etc/icpedge/sites",
}

// missing skips the test when something it needs is not on this machine,
// or fails it in CI, where .ci/run installs everything and a skip would
// silently stop the check from running.
func missing(t *testing.T, msg string) {
	t.Helper()
	if ci, _ := strconv.ParseBool(os.Getenv("CI")); ci {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

func tool(t *testing.T, name, pkg string) string {
	t.Helper()
	bin, err := exec.LookPath(name)
	if err != nil {
		missing(t, name+" not installed; install it with: apt-get install -y "+pkg)
	}
	return bin
}

// nfpmModule is the nfpm the build script pins, read from the script so the
// two cannot disagree.
func nfpmModule(t *testing.T) string {
	t.Helper()
	script, err := os.ReadFile("build")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^nfpm=(\S+@v\S+)$`).FindSubmatch(script)
	if m == nil {
		t.Fatal("packaging/build: no line nfpm=MODULE@VERSION")
	}
	return string(m[1])
}

// packageArch is the architecture name each format uses for GOARCH.
var packageArch = map[string][2]string{ // GOARCH: deb, rpm
	"amd64": {"amd64", "x86_64"},
	"arm64": {"arm64", "aarch64"},
	"386":   {"i386", "i386"},
}

func TestPackages(t *testing.T) {
	dpkgDeb := tool(t, "dpkg-deb", "dpkg")
	rpm := tool(t, "rpm", "rpm")
	archs, ok := packageArch[runtime.GOARCH]
	if !ok {
		t.Skipf("no package architecture names known for %s", runtime.GOARCH)
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	statSources(t, root)

	// go run fetches nfpm from the module proxy the first time; without a
	// network, and without nfpm in the module cache, that is the one thing
	// this test cannot do. The fallback to the cache is the script's.
	nfpm := nfpmModule(t)
	check := exec.Command("go", "run", nfpm, "--version")
	check.Env = append(os.Environ(), "GOPROXY="+goEnv(t, "GOPROXY")+"|file://"+strings.TrimSuffix(goEnv(t, "GOMODCACHE"), "/")+"/cache/download")
	if out, err := check.CombinedOutput(); err != nil {
		missing(t, "go run "+nfpm+" failed (it needs the Go module proxy the first time): "+err.Error()+"\n"+string(out))
	}

	dist := t.TempDir()
	cmd := exec.Command("packaging/build", "-o", dist, "v1.2.3")
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("packaging/build: %v\n%s", err, out)
	}
	t.Logf("packaging/build -o DIR v1.2.3:\n%s", out)

	t.Run("progress", func(t *testing.T) {
		var steps []string
		for _, line := range strings.Split(string(out), "\n") {
			if s, ok := strings.CutPrefix(line, "==> "); ok {
				steps = append(steps, s)
			}
		}
		wantSteps := []string{"building icpedge v1.2.3 for linux/" + runtime.GOARCH, "collecting the licences", "preparing nfpm", "packaging the .deb", "packaging the .rpm"}
		if len(steps) != len(wantSteps) {
			t.Fatalf("progress steps: got %q; want %q", steps, wantSteps)
		}
		for i, s := range steps {
			if !strings.HasPrefix(s, wantSteps[i]) {
				t.Errorf("progress step %d: got %q; want %q…", i+1, s, wantSteps[i])
			}
		}
	})

	deb := filepath.Join(dist, "icpedge_1.2.3_"+archs[0]+".deb")
	rpmFile := filepath.Join(dist, "icpedge-1.2.3-1."+archs[1]+".rpm")
	for _, p := range []string{deb, rpmFile} {
		if _, err := os.Stat(p); err != nil {
			entries, _ := os.ReadDir(dist)
			t.Fatalf("%v; the output directory holds %v", err, entries)
		}
	}

	t.Run("deb", func(t *testing.T) {
		contents := run(t, dpkgDeb, "--contents", deb)
		t.Logf("dpkg-deb --contents %s:\n%s", filepath.Base(deb), contents)
		for _, f := range want {
			if !regexp.MustCompile(`(?m) \.` + regexp.QuoteMeta(f) + `/?$`).MatchString(contents) {
				t.Errorf("the .deb lacks %s", f)
			}
		}
		if !regexp.MustCompile(`(?m)^-rwxr-xr-x root/root .* \./usr/bin/icpedge$`).MatchString(contents) {
			t.Error("/usr/bin/icpedge is not an executable owned by root")
		}
		for _, dir := range []string{"/etc/icpedge/", "/etc/icpedge/sites/"} {
			if !regexp.MustCompile(`(?m)^drwxr-x--- root/root .* \.` + dir + `$`).MatchString(contents) {
				t.Errorf("%s is not mode 0750", dir)
			}
		}
		fields := run(t, dpkgDeb, "--field", deb, "Package", "Version", "Architecture")
		for _, f := range []string{"Package: icpedge\n", "Version: 1.2.3\n", "Architecture: " + archs[0] + "\n"} {
			if !strings.Contains(fields, f) {
				t.Errorf("dpkg-deb --field: got %q; want it to hold %q", fields, f)
			}
		}
		// The synopsis is the first line of Description: short, and whole.
		synopsis := strings.TrimSpace(run(t, dpkgDeb, "--field", deb, "Description"))
		synopsis, long, _ := strings.Cut(synopsis, "\n")
		if synopsis == "" || len(synopsis) > 80 || strings.HasSuffix(synopsis, ",") || strings.HasSuffix(synopsis, ".") {
			t.Errorf("synopsis %q; want one complete phrase of at most 80 characters", synopsis)
		}
		if !strings.Contains(long, "ICP filing notice") {
			t.Errorf("long description %q; want it to say what the package does", long)
		}
		if postinst := run(t, dpkgDeb, "--info", deb, "postinst"); !strings.Contains(postinst, "systemd-sysusers /usr/lib/sysusers.d/icpedge.conf") {
			t.Errorf("postinst does not create the icpedge user:\n%s", postinst)
		}
		if postrm := run(t, dpkgDeb, "--info", deb, "postrm"); !strings.Contains(postrm, "daemon-reload") {
			t.Errorf("postrm does not reload systemd:\n%s", postrm)
		}

		tree := t.TempDir()
		run(t, dpkgDeb, "-x", deb, tree)
		checkTree(t, root, tree)
	})

	t.Run("rpm", func(t *testing.T) {
		contents := run(t, rpm, "-qlp", rpmFile)
		t.Logf("rpm -qlp %s:\n%s", filepath.Base(rpmFile), contents)
		for _, f := range want {
			if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(f) + `$`).MatchString(contents) {
				t.Errorf("the .rpm lacks %s", f)
			}
		}
		modes := run(t, rpm, "-qp", "--queryformat", "[%{FILEMODES:perms} %{FILEUSERNAME} %{FILENAMES}\n]", rpmFile)
		for _, m := range []string{"-rwxr-xr-x root /usr/bin/icpedge", "drwxr-x--- root /etc/icpedge\n", "drwxr-x--- root /etc/icpedge/sites\n"} {
			if !strings.Contains(modes, m) {
				t.Errorf("rpm file modes lack %q:\n%s", m, modes)
			}
		}
		header := run(t, rpm, "-qp", "--queryformat", "%{NAME} %{VERSION} %{RELEASE} %{ARCH}\n%{SUMMARY}\n", rpmFile)
		if wantHeader := "icpedge 1.2.3 1 " + archs[1] + "\n"; !strings.HasPrefix(header, wantHeader) {
			t.Errorf("rpm header: got %q; want it to start %q", header, wantHeader)
		}
		if scripts := run(t, rpm, "-qp", "--scripts", rpmFile); !strings.Contains(scripts, "systemd-sysusers /usr/lib/sysusers.d/icpedge.conf") || !strings.Contains(scripts, "daemon-reload") {
			t.Errorf("rpm scripts lack the postinstall or postremove:\n%s", scripts)
		}
	})
}

// statSources stats every file of the checkout. go test caches a passing
// result keyed on the files the test itself touches, and the packages are
// built from the whole checkout by child processes it cannot see: without
// this, a change to a unit, nfpm.yaml or the binary's source would be
// answered by the cached result.
func statSources(t *testing.T, root string) {
	t.Helper()
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || path == filepath.Join(root, "dist")) {
			return filepath.SkipDir
		}
		if d.Type().IsRegular() {
			_, err = os.Stat(path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// checkTree checks the files of an unpacked package against the repository
// at root.
func checkTree(t *testing.T, root, tree string) {
	t.Helper()
	// The units are installed as they are in systemd/, which its own tests
	// check, and run the binary where the package puts it.
	for _, u := range []string{"icpedge@.service", "icpedge.service"} {
		packaged := readFile(t, filepath.Join(tree, "usr/lib/systemd/system", u))
		if packaged != readFile(t, filepath.Join(root, "systemd", u)) {
			t.Errorf("%s differs from systemd/%s", u, u)
		}
		var ran int
		sc := bufio.NewScanner(strings.NewReader(packaged))
		for sc.Scan() {
			key, val, ok := strings.Cut(sc.Text(), "=")
			if !ok || !strings.HasPrefix(key, "Exec") {
				continue
			}
			exe := strings.TrimLeft(strings.Fields(val)[0], "-@:+!")
			if filepath.Base(exe) != "icpedge" {
				continue
			}
			ran++
			if fi, err := os.Stat(filepath.Join(tree, exe)); err != nil || fi.Mode()&0o111 == 0 {
				t.Errorf("%s: %s runs %s, which the package does not install as an executable", u, key, exe)
			}
		}
		if ran == 0 {
			t.Errorf("%s runs no icpedge binary", u)
		}
	}

	if got, want := readFile(t, filepath.Join(tree, "usr/share/doc/icpedge/copyright")), readFile(t, filepath.Join(root, "packaging/copyright")); got != want {
		t.Error("/usr/share/doc/icpedge/copyright differs from packaging/copyright")
	}

	// Every module linked into the binary has its section, with a licence.
	licences := readFile(t, filepath.Join(tree, "usr/share/doc/icpedge/third-party-licenses"))
	list := exec.Command("go", "list", "-deps", "-f", "{{with .Module}}{{if not .Main}}{{.Path}} {{.Version}}{{end}}{{end}}", "./cmd/icpedge")
	list.Dir = root
	list.Env = append(os.Environ(), "GOOS=linux", "CGO_ENABLED=0")
	mods, err := list.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	seen := map[string]bool{}
	for _, mod := range strings.Split(strings.TrimSpace(string(mods)), "\n") {
		if mod == "" || seen[mod] {
			continue
		}
		seen[mod] = true
		path, version, _ := strings.Cut(mod, " ")
		_, section, ok := strings.Cut(licences, "\n"+mod+"\n")
		if !ok {
			t.Errorf("third-party-licenses lacks %s %s", path, version)
			continue
		}
		section, _, _ = strings.Cut(section, "\n====")
		if !regexp.MustCompile(`(?m)^--- (LICEN[CS]E|COPYING)\S* ---$`).MatchString(section) {
			t.Errorf("third-party-licenses: %s has no licence text", path)
		}
	}
	if len(seen) < 5 || !strings.Contains(licences, "\nGo standard library (") {
		t.Errorf("third-party-licenses covers %d modules and the standard library: %v", len(seen), strings.Contains(licences, "Go standard library"))
	}

	if runtime.GOOS == "linux" {
		v := run(t, filepath.Join(tree, "usr/bin/icpedge"), "version")
		if !strings.Contains(v, "v1.2.3") {
			t.Errorf("icpedge version: got %q; want the package version v1.2.3", v)
		}
	}
}

// TestBuildUsage checks that the script refuses bad arguments before
// building anything.
func TestBuildUsage(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		missing(t, "bash not installed")
	}
	dist := t.TempDir()
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{nil, 2, "usage: packaging/build"},
		{[]string{"1.2"}, 2, `version "1.2" is not semver`},
		{[]string{"1.2.0", "sparc"}, 2, "Go cannot build for linux/sparc"},
		{[]string{"1.2.0", "amd64", "extra"}, 2, "usage: packaging/build"},
		{[]string{"-x", "1.2.0"}, 2, "usage: packaging/build"},
		{[]string{"-h"}, 0, "usage: packaging/build"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			cmd := exec.Command("./build", append([]string{"-o", dist}, tc.args...)...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			code := 0
			if err != nil {
				ee, ok := err.(*exec.ExitError)
				if !ok {
					t.Fatal(err)
				}
				code = ee.ExitCode()
			}
			// Help goes to stdout; a usage error to stderr.
			got := stderr.String()
			if tc.code == 0 {
				got = stdout.String()
			}
			if code != tc.code || !strings.Contains(got, tc.want) {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d and %q", code, stdout.String(), stderr.String(), tc.code, tc.want)
			}
		})
	}
	if entries, _ := os.ReadDir(dist); len(entries) != 0 {
		t.Errorf("a refused build wrote %v", entries)
	}
}

func goEnv(t *testing.T, key string) string {
	t.Helper()
	return strings.TrimSpace(run(t, "go", "env", key))
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
	return string(out)
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
