// Package clamav is a client for clamd's INSTREAM protocol, used to scan
// every upload before it is decoded or stored.
//
// The scanner is optional (off when LUDENG_CLAMD_ADDR is unset), but once
// configured it fails closed: if clamd cannot be reached or answers with an
// error, Scan returns ErrUnavailable (503 scanner_unavailable) and the
// upload is refused; it is never silently passed.
//
// Protocol (clamd(8)): send "zINSTREAM\0", then the data as chunks each
// prefixed by its length as a 4-byte big-endian integer, then a zero-length
// chunk; clamd answers one NUL-terminated line, "stream: OK",
// "stream: <signature> FOUND" or "<reason> ERROR". The "z" prefix selects
// NUL-delimited commands and replies, which avoids newline ambiguity.
package clamav

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/ludeng/ludeng/internal/config"
	"github.com/ludeng/ludeng/internal/fault"
	"github.com/prometheus/client_golang/prometheus"
)

// ErrUnavailable is returned when clamd is configured but cannot scan.
var ErrUnavailable = fault.New(fault.Unavailable, "scanner_unavailable",
	"The malware scanner is unavailable, so the file was not accepted. Please try again in a minute.")

// Defaults.
const (
	// DefaultTimeout bounds one scan including connect. A 5 MiB image scans
	// in well under a second; 30 s only trips on a hung daemon.
	DefaultTimeout = 30 * time.Second
	// DefaultChunkSize is the INSTREAM chunk size. clamd's own StreamMaxLength
	// (default 25 MB) limits the total, not the chunk.
	DefaultChunkSize = 64 << 10
)

// Config configures the client.
type Config struct {
	// Addr is clamd's address: "unix:///run/clamav/clamd.ctl", an absolute
	// socket path, "tcp://127.0.0.1:3310" or "host:port". Empty disables
	// scanning: check Enabled before calling New. Env LUDENG_CLAMD_ADDR.
	Addr string
	// Timeout per scan (default 30 s). Env LUDENG_CLAMD_TIMEOUT.
	Timeout time.Duration
	// ChunkSize of INSTREAM chunks (default 64 KiB).
	ChunkSize int
}

// ConfigFromEnv reads LUDENG_CLAMD_ADDR and LUDENG_CLAMD_TIMEOUT.
func ConfigFromEnv(env *config.Env) Config {
	c := Config{
		Addr:    env.String("LUDENG_CLAMD_ADDR", ""),
		Timeout: env.Duration("LUDENG_CLAMD_TIMEOUT", DefaultTimeout),
	}
	if c.Addr != "" {
		if _, _, err := parseAddr(c.Addr); err != nil {
			env.Fail("LUDENG_CLAMD_ADDR", "%v", err)
		}
	}
	return c
}

// Enabled reports whether an address is configured.
func (c Config) Enabled() bool { return c.Addr != "" }

func (c Config) validate() error {
	if c.Addr == "" {
		return errors.New("clamav: no address configured (LUDENG_CLAMD_ADDR)")
	}
	if _, _, err := parseAddr(c.Addr); err != nil {
		return fmt.Errorf("LUDENG_CLAMD_ADDR: %w", err)
	}
	if c.Timeout < 0 || c.ChunkSize < 0 {
		return errors.New("clamav: negative timeout or chunk size")
	}
	return nil
}

// parseAddr splits an address into a net.Dial network and address.
func parseAddr(a string) (network, addr string, err error) {
	switch {
	case strings.HasPrefix(a, "unix://"):
		network, addr = "unix", strings.TrimPrefix(a, "unix://")
	case strings.HasPrefix(a, "tcp://"):
		network, addr = "tcp", strings.TrimPrefix(a, "tcp://")
	case strings.HasPrefix(a, "/"):
		network, addr = "unix", a
	default:
		network, addr = "tcp", a
	}
	if network == "tcp" {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return "", "", fmt.Errorf("want unix:///path, /path, tcp://host:port or host:port: %w", err)
		}
	}
	if addr == "" {
		return "", "", errors.New("empty address")
	}
	return network, addr, nil
}

// Verdict is the outcome of a successful scan.
type Verdict struct {
	// Infected is true when clamd matched a signature.
	Infected bool
	// Signature is the matched signature name (empty when clean).
	Signature string
}

// Client talks to one clamd. It opens a connection per scan: clamd's
// IDSESSION multiplexing would save a connect per upload, which is noise
// next to decoding the image.
type Client struct {
	network, addr string
	timeout       time.Duration
	chunk         int
	dialer        net.Dialer
	scans         *prometheus.CounterVec
	seconds       prometheus.Histogram
}

// New returns a client for cfg.Addr (which must be set: see
// Config.Enabled). It does not connect; use Ping to check the daemon.
// Metrics are registered on reg when it is not nil:
// ludeng_clamav_scans_total{result} and ludeng_clamav_scan_duration_seconds.
func New(cfg Config, reg prometheus.Registerer) (*Client, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	network, addr, _ := parseAddr(cfg.Addr)
	c := &Client{
		network: network,
		addr:    addr,
		timeout: cmp.Or(cfg.Timeout, DefaultTimeout),
		chunk:   cmp.Or(cfg.ChunkSize, DefaultChunkSize),
		scans: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ludeng_clamav_scans_total",
			Help: "Malware scans by result (clean, infected, error).",
		}, []string{"result"}),
		seconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "ludeng_clamav_scan_duration_seconds",
			Help:    "Duration of clamd INSTREAM scans.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2.5, 10),
		}),
	}
	if reg != nil {
		for _, col := range []prometheus.Collector{c.scans, c.seconds} {
			if err := reg.Register(col); err != nil {
				return nil, fmt.Errorf("clamav: register metrics: %w", err)
			}
		}
	}
	return c, nil
}

func (c *Client) dial(ctx context.Context) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	conn, err := c.dialer.DialContext(ctx, c.network, c.addr)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(c.timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	// The dial context only covers connecting; the deadline covers the
	// whole exchange.
	if err := conn.SetDeadline(deadline); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// Ping checks that clamd answers PONG, for readiness probes.
func (c *Client) Ping(ctx context.Context) error {
	reply, err := c.command(ctx, "zPING\x00")
	if err != nil {
		return ErrUnavailable.Wrap(err)
	}
	if reply != "PONG" {
		return ErrUnavailable.Wrap(fmt.Errorf("clamd ping: unexpected reply %q", reply))
	}
	return nil
}

// Version returns clamd's version line (engine and database), for logs.
func (c *Client) Version(ctx context.Context) (string, error) {
	reply, err := c.command(ctx, "zVERSION\x00")
	if err != nil {
		return "", ErrUnavailable.Wrap(err)
	}
	return reply, nil
}

func (c *Client) command(ctx context.Context, cmd string) (string, error) {
	conn, err := c.dial(ctx)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	if _, err := io.WriteString(conn, cmd); err != nil {
		return "", err
	}
	return readReply(conn)
}

// Scan streams r to clamd and returns its verdict. Any failure to obtain a
// verdict is ErrUnavailable (wrapping the cause), never a clean result.
func (c *Client) Scan(ctx context.Context, r io.Reader) (Verdict, error) {
	start := time.Now()
	v, err := c.scan(ctx, r)
	c.seconds.Observe(time.Since(start).Seconds())
	switch {
	case err != nil:
		c.scans.WithLabelValues("error").Inc()
		if errors.Is(err, context.Canceled) && ctx.Err() != nil {
			return Verdict{}, ctx.Err()
		}
		return Verdict{}, ErrUnavailable.Wrap(err)
	case v.Infected:
		c.scans.WithLabelValues("infected").Inc()
	default:
		c.scans.WithLabelValues("clean").Inc()
	}
	return v, nil
}

func (c *Client) scan(ctx context.Context, r io.Reader) (Verdict, error) {
	conn, err := c.dial(ctx)
	if err != nil {
		return Verdict{}, fmt.Errorf("connect to clamd: %w", err)
	}
	defer conn.Close()
	// Cancelling ctx unblocks any pending read or write at once.
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()

	w := bufio.NewWriterSize(conn, c.chunk+4)
	writeErr := func() error {
		if _, err := w.WriteString("zINSTREAM\x00"); err != nil {
			return err
		}
		buf := make([]byte, c.chunk)
		var size [4]byte
		for {
			n, rerr := io.ReadFull(r, buf)
			if n > 0 {
				binary.BigEndian.PutUint32(size[:], uint32(n))
				if _, err := w.Write(size[:]); err != nil {
					return err
				}
				if _, err := w.Write(buf[:n]); err != nil {
					return err
				}
			}
			if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
				break
			}
			if rerr != nil {
				return fmt.Errorf("read input: %w", rerr)
			}
		}
		binary.BigEndian.PutUint32(size[:], 0)
		if _, err := w.Write(size[:]); err != nil {
			return err
		}
		return w.Flush()
	}()
	// clamd may answer early (e.g. "INSTREAM size limit exceeded") and close
	// its side; its reply explains a failed write better than EPIPE does.
	reply, readErr := readReply(conn)
	if readErr != nil {
		if writeErr != nil {
			return Verdict{}, fmt.Errorf("send stream: %w", writeErr)
		}
		return Verdict{}, fmt.Errorf("read clamd reply: %w", readErr)
	}
	return parseReply(reply)
}

// readReply reads one NUL-terminated reply of at most 4 KiB.
func readReply(r io.Reader) (string, error) {
	br := bufio.NewReaderSize(io.LimitReader(r, 4096), 4096)
	line, err := br.ReadBytes(0)
	if err != nil {
		if errors.Is(err, io.EOF) && len(line) > 0 {
			return strings.TrimSpace(string(line)), nil
		}
		return "", err
	}
	return strings.TrimSpace(string(bytes.TrimSuffix(line, []byte{0}))), nil
}

// parseReply interprets "stream: OK", "stream: Sig FOUND" and "... ERROR".
func parseReply(reply string) (Verdict, error) {
	body := strings.TrimPrefix(reply, "stream: ")
	switch {
	case body == "OK":
		return Verdict{}, nil
	case strings.HasSuffix(body, " FOUND"):
		return Verdict{Infected: true, Signature: strings.TrimSuffix(body, " FOUND")}, nil
	case strings.HasSuffix(body, " ERROR"):
		return Verdict{}, fmt.Errorf("clamd error: %s", strings.TrimSuffix(body, " ERROR"))
	}
	return Verdict{}, fmt.Errorf("unexpected clamd reply %q", reply)
}
