package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/icpedge/icpedge/cmd/icpedge/internal/cli"
	"github.com/icpedge/icpedge/cmd/icpedge/internal/demo"
	"github.com/icpedge/icpedge/cmd/icpedge/internal/edge"
	"github.com/icpedge/icpedge/config"
)

func demoMain(args []string, stdout, stderr io.Writer) int {
	fs := cli.NewFlagSet("demo", "demo [--listen ADDR]", stdout, stderr)
	listen := fs.String("listen", "127.0.0.1:8080", "the edge's listen `address`")
	if ok, code := fs.ParseFlagsOnly(args); !ok {
		return code
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	originLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintf(stderr, "icpedge demo: starting the sample origin: %v\n", err)
		return 1
	}
	origin := &http.Server{Handler: demo.Origin()}
	go func() { _ = origin.Serve(originLn) }()
	defer origin.Close()

	stateDir, err := os.MkdirTemp("", "icpedge-demo-")
	if err != nil {
		fmt.Fprintf(stderr, "icpedge demo: %v\n", err)
		return 1
	}
	defer os.RemoveAll(stateDir)

	originURL := "http://" + originLn.Addr().String()
	yaml := fmt.Sprintf(demo.ConfigFormat, originURL, originLn.Addr().(*net.TCPAddr).IP.String(), *listen, stateDir)
	cfg, err := config.Parse("demo.yaml", []byte(yaml))
	if err != nil {
		fmt.Fprintf(stderr, "icpedge demo: %v\n", err)
		return 1
	}
	// The demo is opened by address as well as by name.
	cfg.Hosts = append(cfg.Hosts, "127.0.0.1", "::1")

	logger := slog.New(slog.NewTextHandler(stderr, nil))
	e, err := edge.New([]*config.Config{cfg}, edge.Options{Single: true, Logger: logger, Version: buildVersion(), Ready: func(st edge.Status) {
		fmt.Fprintf(stdout, "icpedge demo: sample origin at %s\n", originURL)
		fmt.Fprintf(stdout, "icpedge demo: open http://%s/ (Ctrl-C to stop)\n", demo.VisitAddr(st.HTTP))
		demo.WriteTour(stdout, "http://"+demo.VisitAddr(st.HTTP))
	}})
	if err == nil {
		err = e.Run(ctx)
	}
	if err != nil {
		fmt.Fprintf(stderr, "icpedge demo: %v\n", err)
		return 1
	}
	return 0
}
