package clamav

import (
	"bytes"
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/ludeng/ludeng/internal/clamav/clamavtest"
	"github.com/ludeng/ludeng/internal/config"
	"github.com/ludeng/ludeng/internal/fault"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
)

func TestParseAddr(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, network, addr string
		bad               bool
	}{
		{in: "unix:///run/clamav/clamd.ctl", network: "unix", addr: "/run/clamav/clamd.ctl"},
		{in: "/run/clamd.sock", network: "unix", addr: "/run/clamd.sock"},
		{in: "tcp://127.0.0.1:3310", network: "tcp", addr: "127.0.0.1:3310"},
		{in: "clamd:3310", network: "tcp", addr: "clamd:3310"},
		{in: "clamd", bad: true},
		{in: "unix://", bad: true},
	}
	for _, tt := range tests {
		n, a, err := parseAddr(tt.in)
		if tt.bad {
			require.Error(t, err, tt.in)
			continue
		}
		require.NoError(t, err, tt.in)
		require.Equal(t, tt.network, n)
		require.Equal(t, tt.addr, a)
	}
	_, err := New(Config{}, nil)
	require.Error(t, err)
	env := config.NewEnv(func(k string) string {
		return map[string]string{"LUDENG_CLAMD_ADDR": "tcp://h:1", "LUDENG_CLAMD_TIMEOUT": "5s"}[k]
	})
	cfg := ConfigFromEnv(env)
	require.NoError(t, env.Err())
	require.True(t, cfg.Enabled())
	require.Equal(t, 5*time.Second, cfg.Timeout)
}

func TestParseReply(t *testing.T) {
	t.Parallel()
	v, err := parseReply("stream: OK")
	require.NoError(t, err)
	require.False(t, v.Infected)
	v, err = parseReply("stream: Win.Test.EICAR_HDB-1 FOUND")
	require.NoError(t, err)
	require.Equal(t, Verdict{Infected: true, Signature: "Win.Test.EICAR_HDB-1"}, v)
	_, err = parseReply("INSTREAM size limit exceeded. ERROR")
	require.ErrorContains(t, err, "size limit")
	_, err = parseReply("garbage")
	require.Error(t, err)
}

func TestUnreachableIsUnavailable(t *testing.T) {
	t.Parallel()
	// A listener that is closed at once gives a port nobody listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())

	for _, a := range []string{"tcp://" + addr, "unix:///nonexistent/dir/clamd.sock"} {
		c, err := New(Config{Addr: a, Timeout: 2 * time.Second}, nil)
		require.NoError(t, err)
		_, err = c.Scan(context.Background(), strings.NewReader("data"))
		require.ErrorIs(t, err, ErrUnavailable)
		fe := fault.As(err)
		require.Equal(t, fault.Unavailable, fe.Kind)
		require.Equal(t, "scanner_unavailable", fe.Code)
		require.ErrorIs(t, c.Ping(context.Background()), ErrUnavailable)
	}
}

// TestHungDaemonTimesOut: a server that accepts and never answers must not
// hang the upload.
func TestHungDaemonTimesOut(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(io.Discard, c); c.Close() }()
		}
	}()
	c, err := New(Config{Addr: l.Addr().String(), Timeout: 200 * time.Millisecond}, nil)
	require.NoError(t, err)
	_, err = c.Scan(context.Background(), strings.NewReader("data"))
	require.ErrorIs(t, err, ErrUnavailable)
}

func TestRealClamd(t *testing.T) {
	t.Parallel()
	d := clamavtest.Start(t)
	ctx := context.Background()
	jpegish := append([]byte("\xFF\xD8\xFF\xE0 pretend jpeg "), bytes.Repeat([]byte{0x55}, 300<<10)...)
	for _, addr := range []string{d.Unix, d.TCP} {
		reg := prometheus.NewRegistry()
		c, err := New(Config{Addr: addr, ChunkSize: 4096}, reg)
		require.NoError(t, err)
		require.NoError(t, c.Ping(ctx))
		version, err := c.Version(ctx)
		require.NoError(t, err)
		require.Contains(t, version, "ClamAV")

		tests := []struct {
			name      string
			data      []byte
			infected  bool
			signature string
		}{
			{"clean bytes", jpegish, false, ""},
			{"empty stream", nil, false, ""},
			{"eicar file", []byte(clamavtest.EICAR), true, "Ludeng.Test.EICAR"},
			{"eicar appended to image", append(append([]byte(nil), jpegish...), clamavtest.EICAR...), true, clamavtest.EICARBody},
		}
		for _, tt := range tests {
			v, err := c.Scan(ctx, bytes.NewReader(tt.data))
			require.NoError(t, err, "%s via %s", tt.name, addr)
			require.Equal(t, tt.infected, v.Infected, "%s via %s", tt.name, addr)
			if tt.infected {
				require.Contains(t, v.Signature, tt.signature)
			}
		}
		require.Equal(t, 2.0, testutil.ToFloat64(c.scans.WithLabelValues("infected")))
		require.Equal(t, 2.0, testutil.ToFloat64(c.scans.WithLabelValues("clean")))
	}

	// Over clamd's StreamMaxLength (20M here): an error, never "clean".
	c, err := New(Config{Addr: d.Unix}, nil)
	require.NoError(t, err)
	_, err = c.Scan(ctx, io.LimitReader(zeros{}, 21<<20))
	require.ErrorIs(t, err, ErrUnavailable)

	// A cancelled context returns the context error.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = c.Scan(cctx, strings.NewReader("x"))
	require.Error(t, err)
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
