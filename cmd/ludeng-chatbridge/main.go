// Command ludeng-chatbridge relays Alertmanager webhook notifications to
// WeCom (企业微信) and Feishu (飞书) group robots, which Alertmanager 0.25
// cannot address itself: each robot wants its own JSON body, not
// Alertmanager's.
//
//	ludeng-chatbridge -listen 127.0.0.1:9099 -secrets /etc/prometheus/alertmanager-secrets
//
// Alertmanager posts to http://127.0.0.1:9099/<kind>/<name> (kind wecom or
// feishu); the bridge reads the robot's URL from <secrets>/<kind>-<name>.url
// on each request (so a rotated URL needs no restart) and, for Feishu robots
// with signature verification on, the signing secret from
// <secrets>/<kind>-<name>.secret. It answers 200 only when the robot
// accepted the message, so Alertmanager retries everything else.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "ludeng-chatbridge:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("ludeng-chatbridge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:9099", "address to listen on (keep it on loopback: there is no authentication)")
	secrets := fs.String("secrets", "/etc/prometheus/alertmanager-secrets", "directory with <kind>-<name>.url (and optional .secret) files")
	if err := fs.Parse(args); err != nil {
		return err
	}
	logger := slog.New(slog.NewJSONHandler(stderr, nil))
	b := &bridge{
		secrets: *secrets,
		client:  &http.Client{Timeout: 10 * time.Second},
		logger:  logger,
		now:     time.Now,
	}
	srv := &http.Server{
		Addr:              *listen,
		Handler:           b.routes(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	logger.Info("listening", slog.String("addr", *listen), slog.String("secrets", *secrets))
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
