// Command icpedge-pkg builds the icpedge .deb and .rpm packages from this
// repository with nfpm: the binary (built here for linux/ARCH), both
// systemd units, the sysusers and tmpfiles snippets and the example
// config, as packaging/nfpm.yaml lists them.
//
//	go run ./cmd/icpedge-pkg -version 1.2.0 [-arch amd64] [-out dist]
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/goreleaser/nfpm/v2"
	_ "github.com/goreleaser/nfpm/v2/deb" // registers the deb packager
	_ "github.com/goreleaser/nfpm/v2/rpm" // registers the rpm packager
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("icpedge-pkg", flag.ContinueOnError)
	fs.SetOutput(stderr)
	version := fs.String("version", "0.0.0", "package `version` (semver, no leading v)")
	arch := fs.String("arch", runtime.GOARCH, "Go `architecture` to build for: amd64, arm64, …")
	out := fs.String("out", "dist", "`directory` the packages are written to")
	formats := fs.String("formats", "deb,rpm", "comma-separated package `formats`")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	root, err := repoRoot()
	if err != nil {
		fmt.Fprintf(stderr, "icpedge-pkg: %v\n", err)
		return 1
	}
	paths, err := build(root, *out, strings.TrimPrefix(*version, "v"), *arch, strings.Split(*formats, ","))
	if err != nil {
		fmt.Fprintf(stderr, "icpedge-pkg: %v\n", err)
		return 1
	}
	for _, p := range paths {
		fmt.Fprintln(stdout, p)
	}
	return 0
}

// repoRoot is the module's directory, found from the working directory.
func repoRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("finding the module: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("run inside the icpedge module")
	}
	return filepath.Dir(mod), nil
}

// build compiles icpedge for linux/arch and writes one package per format
// into outDir, returning their paths.
func build(root, outDir, version, arch string, formats []string) ([]string, error) {
	outDir, err := filepath.Abs(outDir)
	if err != nil {
		return nil, err
	}
	binDir := filepath.Join(outDir, "build", arch)
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return nil, err
	}
	bin := filepath.Join(binDir, "icpedge")
	gobuild := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w -X main.version=v"+version, "-o", bin, "./cmd/icpedge")
	gobuild.Dir = root
	gobuild.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+arch, "CGO_ENABLED=0")
	gobuild.Stdout, gobuild.Stderr = os.Stderr, os.Stderr
	if err := gobuild.Run(); err != nil {
		return nil, fmt.Errorf("building icpedge: %w", err)
	}

	vars := map[string]string{
		"ICPEDGE_VERSION": version,
		"ICPEDGE_ARCH":    arch,
		"ICPEDGE_BINARY":  bin,
		"ICPEDGE_ROOT":    root,
	}
	var paths []string
	for _, format := range formats {
		p, err := pack(filepath.Join(root, "packaging", "nfpm.yaml"), vars, format, outDir)
		if err != nil {
			return paths, fmt.Errorf("%s: %w", format, err)
		}
		paths = append(paths, p)
	}
	return paths, nil
}

// pack writes the package of one format described by the nfpm config.
func pack(configPath string, vars map[string]string, format, outDir string) (string, error) {
	f, err := os.Open(configPath)
	if err != nil {
		return "", err
	}
	defer f.Close()
	cfg, err := nfpm.ParseWithEnvMapping(f, func(k string) string { return vars[k] })
	if err != nil {
		return "", fmt.Errorf("parsing %s: %w", configPath, err)
	}
	info, err := cfg.Get(format)
	if err != nil {
		return "", err
	}
	info = nfpm.WithDefaults(info)
	for _, script := range []*string{&info.Scripts.PreInstall, &info.Scripts.PostInstall, &info.Scripts.PreRemove, &info.Scripts.PostRemove} {
		if *script != "" && !filepath.IsAbs(*script) {
			*script = filepath.Join(vars["ICPEDGE_ROOT"], *script)
		}
	}
	packager, err := nfpm.Get(format)
	if err != nil {
		return "", err
	}
	path := filepath.Join(outDir, packager.ConventionalFileName(info))
	tmp, err := os.CreateTemp(outDir, ".pkg-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	if err := packager.Package(info, tmp); err != nil {
		tmp.Close()
		return "", fmt.Errorf("packaging: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return "", err
	}
	return path, os.Rename(tmp.Name(), path)
}
