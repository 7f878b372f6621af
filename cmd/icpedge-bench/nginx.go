package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/icpedge/icpedge/rewrite"
)

// The nginx comparison runs Debian's nginx as a caching reverse proxy
// with a sub_filter that puts the same notice where the edge puts it, on
// the same origin: what a careful operator would set up without icpedge.
// Its config is written here, not taken from the system: proxy_cache on
// disk, gzip on (level 1, nginx's default), two workers, no access log,
// in the foreground, every path under the scenario's directory, loopback
// only. A second server on another port differs only in gzip_comp_level
// 6, for the bytes-per-hit comparison; both share one cache.
const nginxConfig = `daemon off;
master_process on;
worker_processes 2;
pid %[1]s/nginx.pid;
error_log stderr warn;
%[2]s
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path %[1]s/client_body;
    proxy_temp_path %[1]s/proxy_temp;
    fastcgi_temp_path %[1]s/fastcgi_temp;
    uwsgi_temp_path %[1]s/uwsgi_temp;
    scgi_temp_path %[1]s/scgi_temp;
    proxy_cache_path %[1]s/cache levels=1:2 keys_zone=edge:16m max_size=2g inactive=1d use_temp_path=off;
    default_type application/octet-stream;
    gzip on;
    gzip_vary on;
    gzip_proxied any;
    map $upstream_cache_status $icp_cache_status {
        HIT     "hit";
        default "fwd=miss";
    }
    upstream origin {
        server %[3]s;
        keepalive 64;
    }
    server {
        listen %[4]s;
        server_name %[6]s;
        location / { include %[1]s/location.conf; }
    }
    server {
        listen %[5]s;
        server_name %[6]s;
        gzip_comp_level 6;
        location / { include %[1]s/location.conf; }
    }
}
`

// nginxLocation proxies, caches and injects the notice. The origin is
// asked for uncompressed bodies, which sub_filter needs.
const nginxLocation = `proxy_pass http://origin;
proxy_http_version 1.1;
proxy_set_header Connection "";
proxy_set_header Host $host;
proxy_set_header Accept-Encoding "";
proxy_cache edge;
proxy_cache_lock on;
sub_filter '</footer>' '</footer>%[1]s';
sub_filter_once on;
add_header Cache-Status "nginx; $icp_cache_status";
`

// findNginx resolves --nginx: "" looks for nginx on PATH and in
// /usr/sbin (where Debian puts it, off an ordinary user's PATH), "off"
// turns the comparison off. found is "" when there is none.
func findNginx(flagValue string) (found string, err error) {
	switch flagValue {
	case "off":
		return "", nil
	case "":
		if p, err := exec.LookPath("nginx"); err == nil {
			return p, nil
		}
		if _, err := os.Stat("/usr/sbin/nginx"); err == nil {
			return "/usr/sbin/nginx", nil
		}
		return "", nil
	}
	p, err := exec.LookPath(flagValue)
	if err != nil {
		return "", fmt.Errorf("--nginx: %w", err)
	}
	return p, nil
}

// nginxVersion returns what nginx -v says, and an error when the binary
// lacks a module the comparison needs.
func nginxVersion(ctx context.Context, bin string) (string, error) {
	out, err := exec.CommandContext(ctx, bin, "-V").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%s -V: %w: %s", bin, err, bytes.TrimSpace(out))
	}
	version := "nginx"
	for line := range strings.SplitSeq(string(out), "\n") {
		if v, ok := strings.CutPrefix(line, "nginx version: "); ok {
			version = v
		}
	}
	for _, mod := range []string{"--with-http_sub_module"} {
		if !strings.Contains(string(out), mod) {
			return version, fmt.Errorf("%s was built without %s, which the comparison needs (Debian's nginx package has it)", bin, strings.TrimPrefix(mod, "--with-"))
		}
	}
	return version, nil
}

// noticeBlock is the notice the edge injects into the bench's pages,
// byte for byte, so that nginx serves the same documents.
func noticeBlock() (string, error) {
	rw, err := rewrite.New(rewrite.Options{Notice: rewrite.Notice{ICP: noticeICP}})
	if err != nil {
		return "", err
	}
	res, err := rw.HTML([]byte(`<!DOCTYPE html><html><head><meta charset="utf-8"></head><body><footer></footer></body></html>`), "text/html; charset=utf-8", rewrite.Edge{Scheme: "http", Host: edgeHost})
	if err != nil {
		return "", err
	}
	_, after, ok := bytes.Cut(res.Body, []byte("</footer>"))
	block, _, ok2 := bytes.Cut(after, []byte("</body>"))
	if !ok || !ok2 || !bytes.HasPrefix(block, []byte(`<div id="`+rewrite.NoticeID+`"`)) {
		return "", fmt.Errorf("notice block not found after </footer> in %q", res.Body)
	}
	return string(block), nil
}

// startNginx runs nginx on a config in dir whose upstream is originAddr,
// and waits until both its servers accept connections. c.addr serves
// gzip at level 1; addr6 at level 6.
func startNginx(ctx context.Context, bin, dir, originAddr, notice string) (c *child, addr6 string, err error) {
	for range 3 {
		if c, addr6, err = startNginxOnce(ctx, bin, dir, originAddr, notice); err == nil {
			return c, addr6, nil
		}
		if !strings.Contains(err.Error(), "Address already in use") {
			return nil, "", err
		}
	}
	return nil, "", err
}

func startNginxOnce(ctx context.Context, bin, dir, originAddr, notice string) (*child, string, error) {
	if strings.ContainsAny(notice, "$\\'") {
		return nil, "", fmt.Errorf("the notice %q can't go into a sub_filter string", notice)
	}
	addr, err := freeLoopbackAddr()
	if err != nil {
		return nil, "", err
	}
	addr6, err := freeLoopbackAddr()
	if err != nil {
		return nil, "", err
	}
	// Workers of a master started as root run as nobody unless told
	// otherwise, and could not write to this user's temp directory.
	userLine := ""
	if os.Geteuid() == 0 {
		if u, err := user.Current(); err == nil {
			userLine = "user " + u.Username + ";"
		}
	}
	conf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(filepath.Join(dir, "location.conf"), fmt.Appendf(nil, nginxLocation, notice), 0o644); err != nil {
		return nil, "", err
	}
	if err := os.WriteFile(conf, fmt.Appendf(nil, nginxConfig, dir, userLine, originAddr, addr, addr6, edgeHost), 0o644); err != nil {
		return nil, "", err
	}
	// -e: the error log before the config is read goes to stderr too,
	// not to the package's /var/log path.
	c := &child{name: "nginx", cmd: exec.Command(bin, "-p", dir, "-c", conf, "-e", "stderr"), warnWords: []string{"[warn]", "[error]", "[crit]", "[alert]", "[emerg]"}}
	c.quit = func() { _ = c.cmd.Process.Signal(syscall.SIGTERM) } // fast shutdown
	c.procs = func() []int { return processTree(c.pid()) }
	stderr, err := c.start(nil)
	if err != nil {
		return nil, "", err
	}
	go c.follow(stderr, nil)
	addrc := make(chan string, 1)
	go func() {
		for range 3000 {
			select {
			case <-c.exited:
				return
			default:
			}
			if dialable(addr) && dialable(addr6) {
				addrc <- addr
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	if err := c.waitAddr(ctx, addrc); err != nil {
		return nil, "", err
	}
	return c, addr6, nil
}

func dialable(addr string) bool {
	nc, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	nc.Close()
	return true
}

// processTree returns pid and its descendants, from /proc: for nginx,
// the master, its workers, the cache manager and, while it runs, the
// cache loader.
func processTree(pid int) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return []int{pid}
	}
	parent := map[int]int{}
	for _, de := range ents {
		p, err := strconv.Atoi(de.Name())
		if err != nil {
			continue
		}
		if pp, err := readPPID(p); err == nil {
			parent[p] = pp
		}
	}
	out := []int{pid}
	in := map[int]bool{pid: true}
	for grew := true; grew; {
		grew = false
		for p, pp := range parent {
			if in[pp] && !in[p] {
				in[p] = true
				out = append(out, p)
				grew = true
			}
		}
	}
	return out
}

func readPPID(pid int) (int, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("no command name")
	}
	f := strings.Fields(string(b[i+1:])) // state, ppid, ...
	if len(f) < 2 {
		return 0, errors.New("short stat")
	}
	return strconv.Atoi(f[1])
}
