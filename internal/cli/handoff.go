package cli

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/cloudflare/tableflip"
)

// handoff replaces the running binary without closing the listening socket.
//
// On SIGUSR2 the process starts its own executable path again (os.Args[0],
// so a symlink or a file replaced in place yields the new release) with the
// listener inherited; the new process opens the database, migrates, starts
// its workers and serves on the same socket, then says it is ready. Only then
// does the old one drain: /readyz 503, stop accepting (the kernel queue
// belongs to both, so no connection is refused), finish its requests and
// running jobs, exit. If the new binary fails before it is ready, the old one
// keeps serving as if nothing happened.
//
// Why this and not only systemd socket activation: with ludeng.socket,
// `systemctl restart` stops the old process before starting the new one, so
// connections wait in the kernel queue for the drain plus the start (several
// seconds: migrations, the pool, River) and a new binary that cannot start
// leaves nobody serving. The handoff overlaps the two processes, and the
// old one stays when the new one fails. Socket activation is still accepted
// (LISTEN_FDS): systemd then holds the socket across crashes and restarts,
// and upgrades use the handoff on top of it.
type handoff struct {
	upg    *tableflip.Upgrader
	logger *slog.Logger
}

func newHandoff(cfg *Config, logger *slog.Logger) (*handoff, error) {
	upg, err := tableflip.New(tableflip.Options{PIDFile: cfg.PIDFile, UpgradeTimeout: cfg.UpgradeTimeout})
	if err != nil {
		return nil, fmt.Errorf("listener handoff: %w", err)
	}
	return &handoff{upg: upg, logger: logger}, nil
}

// listen returns the listener: inherited from the previous binary, else
// from systemd (LISTEN_FDS), else a new one. A nil handoff just listens.
func (h *handoff) listen(addr string) (net.Listener, error) {
	if h == nil {
		return net.Listen("tcp", addr)
	}
	if !h.upg.HasParent() {
		ln, err := systemdListener()
		if err != nil {
			return nil, err
		}
		if ln != nil {
			h.logger.Info("listening on the socket passed by systemd (LISTEN_FDS)", slog.String("addr", ln.Addr().String()))
			// Registered under the configured address, the name the next
			// binary asks for.
			if err := h.upg.Fds.AddListener("tcp", addr, ln.(*net.TCPListener)); err != nil {
				return nil, fmt.Errorf("listener handoff: %w", err)
			}
			return ln, nil
		}
	}
	ln, err := h.upg.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	if h.upg.HasParent() {
		h.logger.Info("took over the listener from the previous process", slog.String("addr", ln.Addr().String()))
	}
	return ln, nil
}

// ready tells the previous process (if any) and systemd that this one
// serves, and writes the PID file.
func (h *handoff) ready() error {
	if h == nil {
		return nil
	}
	if err := h.upg.Ready(); err != nil {
		return fmt.Errorf("listener handoff: %w", err)
	}
	sdNotify(h.logger, fmt.Sprintf("MAINPID=%d\nREADY=1", os.Getpid()))
	return nil
}

// upgrade starts the new binary and waits until it is ready or failed.
func (h *handoff) upgrade() {
	start := time.Now()
	h.logger.Info("SIGUSR2: starting the new binary with the inherited listener", slog.String("path", os.Args[0]))
	sdNotify(h.logger, "RELOADING=1")
	if err := h.upg.Upgrade(); err != nil {
		h.logger.Error("upgrade failed: this process keeps serving", slog.Any("error", err))
		sdNotify(h.logger, "READY=1")
		return
	}
	h.logger.Info("the new binary is ready; handing over", slog.Duration("took", time.Since(start)))
}

// exit is closed once a new binary took over (or stop was called).
func (h *handoff) exit() <-chan struct{} {
	if h == nil {
		return nil
	}
	return h.upg.Exit()
}

func (h *handoff) stop() {
	if h != nil {
		h.upg.Stop()
	}
}

// systemdListener returns the first socket systemd passed (sd_listen_fds),
// or nil without one. The variables are removed so a child process does not
// mistake them for its own.
func systemdListener() (net.Listener, error) {
	pid, fds := os.Getenv("LISTEN_PID"), os.Getenv("LISTEN_FDS")
	if pid == "" || fds == "" {
		return nil, nil
	}
	defer func() {
		_ = os.Unsetenv("LISTEN_PID")
		_ = os.Unsetenv("LISTEN_FDS")
		_ = os.Unsetenv("LISTEN_FDNAMES")
	}()
	if pid != strconv.Itoa(os.Getpid()) {
		return nil, nil
	}
	if n, err := strconv.Atoi(fds); err != nil || n < 1 {
		return nil, fmt.Errorf("LISTEN_FDS=%q: want a count of at least 1", fds)
	}
	const first = 3 // SD_LISTEN_FDS_START
	f := os.NewFile(first, "systemd-socket")
	ln, err := net.FileListener(f)
	_ = f.Close() // FileListener dups the descriptor
	if err != nil {
		return nil, fmt.Errorf("LISTEN_FDS: descriptor %d is not a listening socket: %w", first, err)
	}
	if _, ok := ln.(*net.TCPListener); !ok {
		_ = ln.Close()
		return nil, fmt.Errorf("LISTEN_FDS: descriptor %d is not a TCP socket", first)
	}
	return ln, nil
}

// sdNotify sends a state to systemd's notify socket when there is one
// (Type=notify with NotifyAccess=all: the new binary announces itself as
// the main process).
func sdNotify(logger *slog.Logger, state string) {
	path := os.Getenv("NOTIFY_SOCKET")
	if path == "" {
		return
	}
	if path[0] == '@' {
		path = "\x00" + path[1:]
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		logger.Warn("sd_notify", slog.Any("error", err))
		return
	}
	defer c.Close()
	if _, err := c.Write([]byte(state)); err != nil {
		logger.Warn("sd_notify", slog.Any("error", err))
	}
}
