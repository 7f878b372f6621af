package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// edgeHost is the one host the benchmark's edge serves.
const edgeHost = "icp.example.test"

// noticeICP is the filing number the edge injects; a page without it was
// not rewritten.
const noticeICP = "京ICP备12345678号-1"

// edgeConfig is the instance config for the benchmark; the access log
// (info) stays off so that logging does not take part in the figures.
// The admin listener serves the metrics read after a load.
const edgeConfig = `hosts: [%s]
origin: %s
listen: {http: "%s"}
state_dir: %s
notice: {icp: %s}
admin: {listen: "%s", token_file: %s}
log: {level: warn}
timeouts: {shutdown: 2s}
cache:
  max_size: 2GiB
  memory: %s
`

// logTail is how many of the edge's last log lines are kept for reports.
const logTail = 20

// child is a process this tool started and stops: the edge, or the plain
// server.
type child struct {
	name string
	cmd  *exec.Cmd
	addr string
	// admin and tokenFile are the edge's admin listener and its token.
	admin, tokenFile string
	exited           chan struct{}
	// quit asks the child to end; stop kills it by PID if it has not
	// within 5s.
	quit func()
	// procs lists the processes whose memory and CPU count as the
	// child's; nil means its own process alone.
	procs func() []int
	// warnWords mark a log line as a warning or an error; nil means
	// icpedge's slog levels.
	warnWords []string

	mu    sync.Mutex
	lines []string // the last logTail lines of its stderr
	warns int      // log lines at warn or error
}

// startEdge runs "bin serve" with a config in dir whose origin is
// originURL, and waits until it accepts connections.
//
// At log level warn the edge does not log the address it bound, so the
// port is picked here (bind :0, close, hand the port over) and readiness
// is a successful dial. Another process could take the port in between;
// that shows as the edge exiting, and a new port is tried.
func startEdge(ctx context.Context, bin, dir, originURL, memory string) (*child, error) {
	var err error
	for range 3 {
		var c *child
		if c, err = startEdgeOnce(ctx, bin, dir, originURL, memory); err == nil {
			return c, nil
		}
		if !strings.Contains(err.Error(), "address already in use") {
			return nil, err
		}
	}
	return nil, err
}

func startEdgeOnce(ctx context.Context, bin, dir, originURL, memory string) (*child, error) {
	addr, err := freeLoopbackAddr()
	if err != nil {
		return nil, err
	}
	admin, err := freeLoopbackAddr()
	if err != nil {
		return nil, err
	}
	cfg := filepath.Join(dir, "icpedge.yaml")
	tokenFile := filepath.Join(dir, "admin.token")
	yaml := fmt.Sprintf(edgeConfig, edgeHost, originURL, addr, filepath.Join(dir, "state"), noticeICP, admin, tokenFile, memory)
	if err := os.WriteFile(cfg, []byte(yaml), 0o644); err != nil {
		return nil, err
	}
	c := &child{name: "icpedge", cmd: exec.Command(bin, "serve", "--config", cfg), admin: admin, tokenFile: tokenFile}
	c.quit = func() { _ = c.cmd.Process.Signal(syscall.SIGTERM) }
	stderr, err := c.start(nil)
	if err != nil {
		return nil, err
	}
	go c.follow(stderr, nil)
	addrc := make(chan string, 1)
	go func() {
		// Bounded by the 30s in waitAddr, after which the child is gone.
		for range 3000 {
			select {
			case <-c.exited:
				return
			default:
			}
			if nc, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
				nc.Close()
				addrc <- addr
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	return c, c.waitAddr(ctx, addrc)
}

// freeLoopbackAddr returns a 127.0.0.1 address with a port that was
// free a moment ago.
func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// start starts c.cmd with stdout to stdoutW (or discarded) and returns
// its stderr. The child is killed if this process dies first.
func (c *child) start(stdoutW io.Writer) (io.ReadCloser, error) {
	c.exited = make(chan struct{})
	c.cmd.Stdout = stdoutW
	if stdoutW == nil {
		c.cmd.Stdout = io.Discard
	}
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stderr, err := c.cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := c.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", c.name, err)
	}
	return stderr, nil
}

// follow reads the child's stderr into its log until the stream ends,
// then waits for the process, runs then (if set), and closes c.exited. It
// runs on a goroutine of the child's own, started with the child.
func (c *child) follow(stderr io.Reader, then func()) {
	sc := bufio.NewScanner(stderr)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		c.logLine(sc.Text())
	}
	_, _ = io.Copy(io.Discard, stderr)
	_ = c.cmd.Wait()
	if then != nil {
		then()
	}
	close(c.exited)
}

func (c *child) waitAddr(ctx context.Context, addrc <-chan string) error {
	t := time.NewTimer(30 * time.Second)
	defer t.Stop()
	select {
	case c.addr = <-addrc:
		return nil
	case <-c.exited:
		return fmt.Errorf("%s exited before listening:\n%s", c.name, c.log())
	case <-t.C:
		c.stop()
		return fmt.Errorf("%s did not listen within 30s:\n%s", c.name, c.log())
	case <-ctx.Done():
		c.stop()
		return ctx.Err()
	}
}

func (c *child) logLine(line string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	words := c.warnWords
	if words == nil {
		words = []string{"level=WARN", "level=ERROR"}
	}
	for _, w := range words {
		if strings.Contains(line, w) {
			c.warns++
			break
		}
	}
	c.lines = append(c.lines, line)
	if len(c.lines) > logTail {
		c.lines = c.lines[len(c.lines)-logTail:]
	}
}

// log returns the last lines the child logged.
func (c *child) log() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.Join(c.lines, "\n")
}

func (c *child) warnings() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.warns
}

// stop asks the child to end and kills it (SIGKILL to its PID) if it has
// not within 5s.
func (c *child) stop() {
	select {
	case <-c.exited:
		return
	default:
	}
	c.quit()
	t := time.NewTimer(5 * time.Second)
	defer t.Stop()
	select {
	case <-c.exited:
	case <-t.C:
		_ = c.cmd.Process.Kill()
		<-c.exited
	}
}

func (c *child) pid() int { return c.cmd.Process.Pid }

// pids returns the child's processes.
func (c *child) pids() []int {
	if c.procs == nil {
		return []int{c.pid()}
	}
	return c.procs()
}

// mem returns the child's memory, summed over its processes.
func (c *child) mem() (memStatus, error) {
	var sum memStatus
	for i, pid := range c.pids() {
		m, err := readMem(pid)
		if err != nil {
			if i == 0 {
				return sum, err
			}
			continue // a helper process that has just exited
		}
		sum.rss += m.rss
		sum.hwm += m.hwm
		sum.pss += m.pss
	}
	return sum, nil
}

// cpuUse is CPU time used, in user space and in the kernel.
type cpuUse struct {
	user, sys time.Duration
}

// cpu returns the CPU time the child's processes have used so far.
func (c *child) cpu() (cpuUse, error) {
	var sum cpuUse
	for i, pid := range c.pids() {
		u, err := readCPU(pid)
		if err != nil {
			if i == 0 {
				return cpuUse{}, err
			}
			continue
		}
		sum.user += u.user
		sum.sys += u.sys
	}
	return sum, nil
}

// memStatus is a process's resident set size now and at its peak, from
// /proc/PID/status, and its proportional set size (shared pages divided
// among the processes that share them) from /proc/PID/smaps_rollup, in
// bytes.
type memStatus struct {
	rss, hwm, pss int64
}

func readMem(pid int) (memStatus, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return memStatus{}, err
	}
	var m memStatus
	for _, line := range bytes.Split(b, []byte("\n")) {
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		var dst *int64
		switch string(name) {
		case "VmRSS":
			dst = &m.rss
		case "VmHWM":
			dst = &m.hwm
		default:
			continue
		}
		f := strings.Fields(string(value)) // "123456 kB"
		if len(f) != 2 || f[1] != "kB" {
			return m, fmt.Errorf("/proc/%d/status: %s: unexpected %q", pid, name, value)
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return m, fmt.Errorf("/proc/%d/status: %s: %w", pid, name, err)
		}
		*dst = kb << 10
	}
	if m.hwm == 0 {
		return m, fmt.Errorf("/proc/%d/status: no VmHWM", pid)
	}
	m.pss = readPss(pid)
	return m, nil
}

// readPss returns the Pss line of /proc/PID/smaps_rollup, or 0.
func readPss(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/smaps_rollup")
	if err != nil {
		return 0
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		if v, ok := bytes.CutPrefix(line, []byte("Pss:")); ok {
			f := strings.Fields(string(v))
			if len(f) == 2 && f[1] == "kB" {
				if kb, err := strconv.ParseInt(f[0], 10, 64); err == nil {
					return kb << 10
				}
			}
		}
	}
	return 0
}

// clockTick is the unit of utime and stime in /proc/PID/stat (USER_HZ,
// 100 on every Linux architecture Go supports).
const clockTick = 10 * time.Millisecond

// readCPU returns the CPU time, user and system, that a process and all
// its threads have used so far.
func readCPU(pid int) (cpuUse, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return cpuUse{}, err
	}
	u, err := parseCPU(b)
	if err != nil {
		return cpuUse{}, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	return u, nil
}

// parseCPU reads utime and stime, fields 14 and 15, from the text of a
// /proc/PID/stat file. The command name, field 2, is in parentheses and
// may hold spaces and parentheses of its own.
func parseCPU(stat []byte) (cpuUse, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return cpuUse{}, errors.New("no command name")
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 13 {
		return cpuUse{}, fmt.Errorf("%d fields", len(f)+2)
	}
	var ticks [2]int64
	for j, s := range f[11:13] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return cpuUse{}, err
		}
		ticks[j] = n
	}
	return cpuUse{user: time.Duration(ticks[0]) * clockTick, sys: time.Duration(ticks[1]) * clockTick}, nil
}

// rssSampler records the largest VmRSS of a child (summed over its
// processes) seen every interval.
type rssSampler struct {
	c    *child
	stop chan struct{}
	done chan struct{}
	mu   sync.Mutex
	max  int64 // under mu
	n    int   // samples taken, under mu
}

func sampleRSS(c *child, every time.Duration) *rssSampler {
	s := &rssSampler{c: c, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			s.sample()
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

func (s *rssSampler) sample() {
	m, err := s.c.mem()
	if err != nil {
		return
	}
	s.mu.Lock()
	s.max = max(s.max, m.rss)
	s.n++
	s.mu.Unlock()
}

// reset forgets the samples so far; the next phase starts from now.
func (s *rssSampler) reset() {
	s.mu.Lock()
	s.max, s.n = 0, 0
	s.mu.Unlock()
	s.sample()
}

// peak returns the largest VmRSS sampled since the start or the last reset.
func (s *rssSampler) peak() int64 {
	s.sample()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.max
}

// Close stops sampling; its goroutine has ended when Close returns.
func (s *rssSampler) Close() {
	close(s.stop)
	<-s.done
}

// dirSize is the bytes of the regular files under dir.
func dirSize(dir string) (int64, int) {
	var size int64
	var files int
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				size += fi.Size()
				files++
			}
		}
		return nil
	})
	return size, files
}

// metric reads the value of an unlabelled counter or gauge from the
// edge's /metrics on its admin listener.
func (c *child) metric(ctx context.Context, name string) (float64, error) {
	tok, err := os.ReadFile(c.tokenFile)
	if err != nil {
		return 0, fmt.Errorf("admin token: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+c.admin+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("GET /metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET /metrics: status %d", resp.StatusCode)
	}
	sc := bufio.NewScanner(io.LimitReader(resp.Body, 4<<20))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("GET /metrics: %w", err)
	}
	return 0, fmt.Errorf("GET /metrics: no %s", name)
}
