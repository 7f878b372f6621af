// Command icpedge-bench measures icpedge on loopback against its
// targets: cache hits as fast as a plain net/http server serving the same
// bytes, misses as fast as nginx's proxy_cache with a sub_filter, a
// single visitor's miss little slower than going to the origin directly,
// exactly one origin request per never-seen URL, a resident set smaller
// than nginx's with a full cache, stored pages smaller than nginx's gzip,
// and a bounded resident set while slow visitors read large bodies and
// gzip bombs.
//
// It runs the real "icpedge serve" as a child process in front of an
// in-process origin and, when nginx is installed, nginx in front of the
// same origin with a config of its own; drives them with its own lean
// HTTP/1.1 load generator in alternating rounds; prints a table with PASS
// or FAIL beside each target; and stops every process it started. Exit
// status: 0 when every target is met, 1 when one is not, 2 when the run
// could not be made.
//
//	go run ./cmd/icpedge-bench                        # everything, 10s, 64 connections
//	go run ./cmd/icpedge-bench --only hits --duration 30s
package main

import (
	"context"
	"debug/buildinfo"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/icpedge/icpedge/config"
)

// Targets.
const (
	targetHitRPS  = 0.9      // edge hit req/s at least this times the plain server's
	targetHitP99  = 1.5      // edge hit p99 at most this times the plain server's (and no more than nginx's)
	targetPeakRSS = 64 << 20 // the edge's VmHWM with a full cache, bytes (and no more than nginx's)
	targetMissRPS = 1.0      // edge misses/s at least this times nginx's (p50 and p99 no worse)
	// targetSingleAdded is the most a miss on one connection may take
	// over the same request sent to the origin directly, at the median.
	targetSingleAdded = 1500 * time.Microsecond
	// targetBrBytes is the most a br hit may weigh, as a multiple of
	// nginx's gzip (level 1, as configured) of the same page.
	targetBrBytes = 0.8
	// targetBuffersRSS is in buffers.go.
)

// options are the command's flags.
type options struct {
	Duration time.Duration // per server and client kind in hits; of the random load in memory
	Conns    int           // concurrent connections
	Entries  int           // URLs cached in memory
	Icpedge  string        // the icpedge binary; "" builds one
	Nginx    string        // the nginx binary; "" finds one, "off" compares with none
	Only     string        // "", or one of scenarios
	// SlowReaders and Bombs are the slow clients of the buffers scenario;
	// BigSize and BombSize the sizes of what they read, as written in
	// the flags (bigSize and bombSize in bytes).
	SlowReaders, Bombs int
	BigSize, BombSize  string
	bigSize, bombSize  int64
	// CacheMemory is the edge's cache.memory setting, as written in its
	// config.
	CacheMemory string
}

func main() {
	if os.Getenv(roleEnv) == rolePlain {
		os.Exit(plainMain(os.Stdin, os.Stdout, os.Stderr))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := benchMain(ctx, os.Args, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func benchMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("icpedge-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.DurationVar(&o.Duration, "duration", 10*time.Second, "load time per server and client kind (hits, misses, single), of the random load (memory), and of the slow reads (buffers)")
	fs.IntVar(&o.Conns, "conns", 64, "concurrent connections, one request in flight on each")
	fs.IntVar(&o.Entries, "entries", 10000, "distinct URLs cached before the memory load")
	fs.StringVar(&o.Icpedge, "icpedge", "", "icpedge `binary` to run (default: go build ./cmd/icpedge into a temp dir)")
	fs.StringVar(&o.Nginx, "nginx", "", "nginx `binary` to compare with (default: nginx on PATH or /usr/sbin/nginx, if any); off compares with none")
	fs.StringVar(&o.Only, "only", "", "run one scenario: "+strings.Join(scenarios, ", "))
	fs.IntVar(&o.SlowReaders, "slow-readers", 50, "buffers: slow clients of the large script, each on its own URL")
	fs.IntVar(&o.Bombs, "bombs", 16, "buffers: slow clients of a gzip bomb, each on its own URL")
	fs.StringVar(&o.BigSize, "big-size", "46MB", "buffers: the large script's `size`")
	fs.StringVar(&o.BombSize, "bomb-size", "1GiB", "buffers: what the gzip bomb inflates to, a `size`")
	fs.StringVar(&o.CacheMemory, "cache-memory", "16MiB", "the edge's cache.memory `size`: its in-memory tier (0 turns it off; 16MiB is the product default)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: icpedge-bench [flags]\n\nLoads icpedge on loopback and prints its figures against the targets.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if err := o.validate(); err != nil || fs.NArg() > 0 {
		if err == nil {
			err = fmt.Errorf("unexpected argument %q", fs.Arg(0))
		}
		fmt.Fprintf(stderr, "icpedge-bench: %v\n", err)
		return 2
	}
	fmt.Fprintf(stdout, "$ %s\n", commandLine(args))
	rep, err := run(ctx, o, stdout, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "icpedge-bench: %v\n", err)
		return 2
	}
	if rep.failed() > 0 {
		return 1
	}
	return 0
}

func (o *options) validate() error {
	var errs []error
	if o.Duration <= 0 {
		errs = append(errs, fmt.Errorf("--duration %v: want a positive duration", o.Duration))
	}
	if o.Conns < 1 || o.Conns > 4096 {
		errs = append(errs, fmt.Errorf("--conns %d: want 1 to 4096", o.Conns))
	}
	if o.Entries < 1 {
		errs = append(errs, fmt.Errorf("--entries %d: want at least 1", o.Entries))
	}
	if !sizeRE.MatchString(o.CacheMemory) {
		errs = append(errs, fmt.Errorf("--cache-memory %q: want a size such as 64MiB or 0", o.CacheMemory))
	}
	if o.Only != "" && !slices.Contains(scenarios, o.Only) {
		errs = append(errs, fmt.Errorf("--only %q: want one of %s", o.Only, strings.Join(scenarios, ", ")))
	}
	if o.SlowReaders < 0 || o.Bombs < 0 || o.SlowReaders+o.Bombs > 4096 {
		errs = append(errs, fmt.Errorf("--slow-readers %d, --bombs %d: want 0 to 4096 in all", o.SlowReaders, o.Bombs))
	}
	var ok bool
	if o.bigSize, ok = config.ParseSize(o.BigSize); !ok || o.bigSize <= 0 || o.bigSize > 1<<30 {
		errs = append(errs, fmt.Errorf("--big-size %q: want a size up to 1GiB such as 46MB", o.BigSize))
	}
	if o.bombSize, ok = config.ParseSize(o.BombSize); !ok || o.bombSize < 1<<10 || o.bombSize > 16<<30 {
		errs = append(errs, fmt.Errorf("--bomb-size %q: want a size from 1KiB to 16GiB such as 1GiB", o.BombSize))
	}
	return errors.Join(errs...)
}

// scenarios are the scenarios in the order they run.
var scenarios = []string{"hits", "misses", "single", "memory", "buffers"}

var sizeRE = regexp.MustCompile(`^[0-9]+ ?([KMG]i?B)?$`)

func (o options) runs(scenario string) bool { return o.Only == "" || o.Only == scenario }

// commandLine quotes args the way a POSIX shell would read them back.
func commandLine(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a != "" && strings.IndexFunc(a, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,+@%", r))
		}) < 0 {
			q[i] = a
			continue
		}
		q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}

// report is everything a run measured.
type report struct {
	hits    *hitsReport
	misses  *missesReport
	single  *missesReport
	memory  *memoryReport
	buffers *buffersReport
	targets []verdict
}

// verdict is one target's outcome.
type verdict struct {
	name, got, want string
	pass            bool
}

func (r *report) failed() int {
	n := 0
	for _, v := range r.targets {
		if !v.pass {
			n++
		}
	}
	return n
}

// run builds or finds the edge, starts the origin, runs the chosen
// scenarios and prints their figures to stdout as each one ends.
func run(ctx context.Context, o options, stdout, stderr io.Writer) (*report, error) {
	tmp, err := os.MkdirTemp("", "icpedge-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	b := &bench{opts: o, tmp: tmp, log: stderr}

	b.bin = o.Icpedge
	built := false
	if b.bin == "" {
		b.bin = filepath.Join(tmp, "icpedge")
		b.progress("building icpedge")
		cmd := exec.CommandContext(ctx, "go", "build", "-o", b.bin, "github.com/icpedge/icpedge/cmd/icpedge")
		cmd.Stdout, cmd.Stderr = stderr, stderr
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("go build github.com/icpedge/icpedge/cmd/icpedge (run from inside the module, or pass --icpedge): %w", err)
		}
		built = true
	} else if _, err := os.Stat(b.bin); err != nil {
		return nil, fmt.Errorf("--icpedge: %w", err)
	}
	if b.nginx, err = findNginx(o.Nginx); err != nil {
		return nil, err
	}
	if b.nginx != "" {
		if b.nginxVersion, err = nginxVersion(ctx, b.nginx); err != nil {
			return nil, err
		}
		if b.notice, err = noticeBlock(); err != nil {
			return nil, err
		}
	}
	b.origin = startOrigin()
	defer b.origin.Close()

	printHeader(stdout, o, b.bin, built, len(b.origin.page("/")), b.nginx, b.nginxVersion)
	rep := &report{}
	if o.runs("hits") {
		if rep.hits, err = b.hits(ctx); err != nil {
			return nil, fmt.Errorf("hits: %w", err)
		}
		rep.targets = append(rep.targets, printHits(stdout, o, rep.hits)...)
	}
	if o.runs("misses") {
		if rep.misses, err = b.misses(ctx); err != nil {
			return nil, fmt.Errorf("misses: %w", err)
		}
		rep.targets = append(rep.targets, printMisses(stdout, rep.misses)...)
	}
	if o.runs("single") {
		if rep.single, err = b.single(ctx); err != nil {
			return nil, fmt.Errorf("single: %w", err)
		}
		rep.targets = append(rep.targets, printSingle(stdout, rep.single)...)
	}
	if o.runs("memory") {
		if rep.memory, err = b.memory(ctx); err != nil {
			return nil, fmt.Errorf("memory: %w", err)
		}
		rep.targets = append(rep.targets, printMemory(stdout, o, rep.memory)...)
	}
	if o.runs("buffers") {
		if rep.buffers, err = b.buffers(ctx); err != nil {
			return nil, fmt.Errorf("buffers: %w", err)
		}
		rep.targets = append(rep.targets, printBuffers(stdout, o, rep.buffers)...)
	}
	printTargets(stdout, rep.targets)
	return rep, nil
}

// edgeBuild describes the binary from its embedded build information.
func edgeBuild(bin string, built bool) string {
	how := "given with --icpedge"
	if built {
		how = "built with go build from this module"
	}
	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		return how
	}
	var rev, modified string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if rev == "" {
		return fmt.Sprintf("%s, %s", how, info.GoVersion)
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if modified == "true" {
		rev += " with uncommitted changes"
	}
	return fmt.Sprintf("%s, %s, revision %s", how, info.GoVersion, rev)
}

// loadAverage returns /proc/loadavg's three averages, or "unknown".
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func printHeader(w io.Writer, o options, bin string, built bool, pageLen int, nginx, nginxVersion string) {
	fmt.Fprintf(w, "machine: %s/%s, %d CPUs, %s, load average %s at start\n", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version(), loadAverage())
	fmt.Fprintf(w, "edge:    icpedge serve (%s); cache memory %s, 2GiB disk; log level warn\n", edgeBuild(bin, built), o.CacheMemory)
	if nginx != "" {
		fmt.Fprintf(w, "nginx:   %s (%s): proxy_cache on disk, sub_filter of the edge's notice after </footer>, gzip on (level 1), 2 workers, access_log off, upstream keepalive 64\n", nginx, nginxVersion)
	} else {
		fmt.Fprintf(w, "nginx:   none (not found, or --nginx off): no comparison with nginx\n")
	}
	fmt.Fprintf(w, "origin:  in-process httptest server, %d-byte HTML page per path, uncompressed, Cache-Control: public, max-age=3600\n", pageLen)
	fmt.Fprintf(w, "plain:   net/http server in a child process of this binary, serving the edge's exact responses from memory: its bodies, and every header field it sent but Date (which net/http adds)\n")
	fmt.Fprintf(w, "client:  raw HTTP/1.1 over %d keep-alive connections, one request in flight on each; bodies read and discarded\n", o.Conns)
}
