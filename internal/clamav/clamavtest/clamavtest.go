// Package clamavtest starts a private, real clamd for tests, with a
// signature database generated on the spot: this machine (and CI) has no
// internet, so freshclam cannot download the official databases, and clamd
// refuses to start without any database.
//
// Signatures are written in the formats sigtool produces:
//
//	.hdb  MD5:Size:Name            (sigtool --md5 file)
//	.ndb  Name:TargetType:Offset:HexBody
//
// Tests skip with a message when the clamd binary is absent; CI installs
// clamav-daemon (see bench/files/clamd-test.sh for the same setup by hand).
package clamavtest

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// EICAR is the standard antivirus test string. It is harmless; scanners
// detect it by convention (here: by the signatures Start installs).
const EICAR = `X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*`

// Signature names installed by Start.
const (
	// EICARFile matches a file whose whole content is EICAR (hash signature).
	EICARFile = "Ludeng.Test.EICAR.File"
	// EICARBody matches EICAR anywhere in a stream (body signature), e.g.
	// appended to a JPEG.
	EICARBody = "Ludeng.Test.EICAR.Body"
)

// Daemon is a running clamd.
type Daemon struct {
	// Unix is the "unix:///…" address of its socket.
	Unix string
	// TCP is the "tcp://127.0.0.1:port" address.
	TCP string
	// Dir holds config, database, socket and log.
	Dir string
}

// Binary returns the clamd path, or "" when it is not installed.
func Binary() string {
	if p, err := exec.LookPath("clamd"); err == nil {
		return p
	}
	for _, p := range []string{"/usr/sbin/clamd", "/usr/local/sbin/clamd"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// WriteDatabase writes test.hdb and test.ndb for the EICAR signatures into dir.
func WriteDatabase(dir string) error {
	sum := md5.Sum([]byte(EICAR))
	hdb := fmt.Sprintf("%s:%d:%s\n", hex.EncodeToString(sum[:]), len(EICAR), EICARFile)
	ndb := fmt.Sprintf("%s:0:*:%s\n", EICARBody, hex.EncodeToString([]byte(EICAR)))
	if err := os.WriteFile(filepath.Join(dir, "test.hdb"), []byte(hdb), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "test.ndb"), []byte(ndb), 0o644)
}

// Start runs clamd on a unix socket and a loopback TCP port, waits until it
// answers PING, and stops it when the test ends. It skips the test when
// clamd is not installed.
func Start(t testing.TB) Daemon {
	t.Helper()
	bin := Binary()
	if bin == "" {
		// CI installs clamd (.ci/run): there a missing daemon is a failure,
		// never a silently skipped security test.
		if os.Getenv("CI") != "" {
			t.Fatal("clamd not installed but CI is set: apt-get install clamav clamav-daemon")
		}
		t.Skip("clamd not installed (apt-get install clamav-daemon); skipping real-clamd test")
	}
	// Unix socket paths are limited to 108 bytes, and t.TempDir() embeds the
	// test name: use a short directory of our own.
	dir, err := os.MkdirTemp("", "clamd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	db := filepath.Join(dir, "db")
	for _, d := range []string{db, filepath.Join(dir, "tmp")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := WriteDatabase(db); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	sock := filepath.Join(dir, "clamd.sock")
	conf := strings.Join([]string{
		"Foreground yes",
		"LocalSocket " + sock,
		"TCPSocket " + port,
		"TCPAddr 127.0.0.1",
		"DatabaseDirectory " + db,
		"TemporaryDirectory " + filepath.Join(dir, "tmp"),
		"LogFile " + filepath.Join(dir, "clamd.log"),
		"PidFile " + filepath.Join(dir, "clamd.pid"),
		"StreamMaxLength 20M",
		"MaxThreads 4",
		"SelfCheck 0",
		"",
	}, "\n")
	confPath := filepath.Join(dir, "clamd.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--config-file="+confPath)
	out, err := os.Create(filepath.Join(dir, "stdout.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start clamd: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait(); out.Close() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	d := Daemon{Unix: "unix://" + sock, TCP: "tcp://127.0.0.1:" + port, Dir: dir}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for {
		if ping(sock) {
			return d
		}
		select {
		case err := <-exited:
			log, _ := os.ReadFile(filepath.Join(dir, "stdout.log"))
			t.Fatalf("clamd exited during startup: %v\n%s", err, log)
		case <-ctx.Done():
			t.Fatal("clamd did not answer PING within 2 minutes")
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func ping(sock string) bool {
	c, err := net.DialTimeout("unix", sock, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("zPING\x00")); err != nil {
		return false
	}
	buf := make([]byte, 8)
	n, _ := c.Read(buf)
	return strings.HasPrefix(string(buf[:n]), "PONG")
}

func freePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}
