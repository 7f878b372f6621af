// Package testredis runs a real redis-server for the cluster tests, on a
// free loopback port, and ends it by its PID.
package testredis

import (
	"fmt"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// wait bounds the wait for redis-server to answer: generous, so that a
// loaded machine passes.
const wait = 60 * time.Second

// Server is a redis-server of the test's own. Its data persists in an
// append-only file, fsynced on every write, so that a restart after Kill
// keeps it, as a production Redis does; there are no RDB snapshots.
type Server struct {
	t    testing.TB
	port int
	dir  string
	cmd  *exec.Cmd
}

// Start starts redis-server for t and kills it when t ends.
func Start(t testing.TB) *Server {
	t.Helper()
	s := New(t)
	s.Run()
	return s
}

// New reserves a port and a data directory for a redis-server that is
// not running yet (Run starts it), killed when t ends if it runs then.
func New(t testing.TB) *Server {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatalf("redis-server is needed (apt-get install redis-server): %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	s := &Server{t: t, port: port, dir: t.TempDir()}
	t.Cleanup(s.Kill)
	return s
}

// Addr is host:port.
func (s *Server) Addr() string { return fmt.Sprintf("127.0.0.1:%d", s.port) }

// Run starts redis-server, the first time or again after Kill (on the
// same port and data), and waits until it answers PING.
func (s *Server) Run() {
	s.t.Helper()
	s.cmd = exec.Command("redis-server",
		"--port", strconv.Itoa(s.port), "--bind", "127.0.0.1", "--dir", s.dir,
		"--save", "", "--appendonly", "yes", "--appendfsync", "always",
		"--daemonize", "no", "--loglevel", "warning", "--logfile", filepath.Join(s.dir, "redis.log"))
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("starting redis-server: %v", err)
	}
	deadline := time.Now().Add(wait)
	for !s.pong() {
		if time.Now().After(deadline) {
			s.t.Fatalf("redis-server on %s did not answer PING within %v", s.Addr(), wait)
		}
		time.Sleep(10 * time.Millisecond) // polling a port, not waiting for a goroutine
	}
}

// pong reports whether redis-server answers PING.
func (s *Server) pong() bool {
	c, err := net.DialTimeout("tcp", s.Addr(), time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	fmt.Fprint(c, "PING\r\n")
	buf := make([]byte, 7)
	n, _ := io.ReadFull(c, buf)
	return string(buf[:n]) == "+PONG\r\n"
}

// Kill ends redis-server abruptly, by its PID, as a crash would.
func (s *Server) Kill() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}
