// Command alertsink is the far end of the alert delivery test
// (.ci/alerting.sh): a minimal SMTP server and an HTTP server that write
// every message they receive to -dir, so the test can check what
// Alertmanager (and ludeng-chatbridge) actually delivered.
//
// Each delivery becomes one file, <n>-<kind>.txt, written atomically, whose
// first line is "received_unix_ms=<ms>"; emails are stored decoded (headers,
// then every text/* part with quoted-printable undone), HTTP bodies as sent,
// after a "path=" and an "authorization=" line.
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"log"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"
)

var seq atomic.Int64

func save(dir, kind string, body []byte) {
	n := seq.Add(1)
	name := filepath.Join(dir, fmt.Sprintf("%04d-%s.txt", n, kind))
	data := append([]byte(fmt.Sprintf("received_unix_ms=%d\n", time.Now().UnixMilli())), body...)
	if err := os.WriteFile(name+".tmp", data, 0o644); err != nil {
		log.Print(err)
		return
	}
	if err := os.Rename(name+".tmp", name); err != nil {
		log.Print(err)
	}
}

func main() {
	smtpAddr := flag.String("smtp", "127.0.0.1:0", "SMTP listen address")
	httpAddr := flag.String("http", "127.0.0.1:0", "HTTP listen address")
	dir := flag.String("dir", ".", "where received messages go")
	flag.Parse()

	ln, err := net.Listen("tcp", *smtpAddr)
	if err != nil {
		log.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				log.Fatal(err)
			}
			go serveSMTP(c, *dir)
		}
	}()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		head := fmt.Sprintf("path=%s\nauthorization=%s\n", r.URL.Path, r.Header.Get("Authorization"))
		save(*dir, "http", append([]byte(head), b...))
		// Answer as the real receivers do when they accept a message.
		switch {
		case strings.HasPrefix(r.URL.Path, "/wecom-robot/"):
			io.WriteString(w, `{"errcode":0,"errmsg":"ok"}`)
		case strings.HasPrefix(r.URL.Path, "/feishu-robot/"):
			io.WriteString(w, `{"code":0,"msg":"success"}`)
		default:
			io.WriteString(w, "ok")
		}
	})
	log.Fatal(http.ListenAndServe(*httpAddr, h))
}

// serveSMTP speaks just enough RFC 5321 for Go's net/smtp client (which
// Alertmanager uses): no STARTTLS and no AUTH advertised.
func serveSMTP(c net.Conn, dir string) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Minute))
	r := bufio.NewReader(c)
	reply := func(s string) { fmt.Fprintf(c, "%s\r\n", s) }
	reply("220 alertsink ESMTP")
	var from, to []string
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		cmd := strings.ToUpper(strings.TrimSpace(line))
		switch {
		case strings.HasPrefix(cmd, "EHLO"):
			reply("250-alertsink")
			reply("250 8BITMIME")
		case strings.HasPrefix(cmd, "HELO"):
			reply("250 alertsink")
		case strings.HasPrefix(cmd, "MAIL FROM:"):
			from = append(from, strings.TrimSpace(line[10:]))
			reply("250 ok")
		case strings.HasPrefix(cmd, "RCPT TO:"):
			to = append(to, strings.TrimSpace(line[8:]))
			reply("250 ok")
		case cmd == "DATA":
			reply("354 end with .")
			var buf bytes.Buffer
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" || l == ".\n" {
					break
				}
				buf.WriteString(strings.TrimPrefix(l, "."))
			}
			head := fmt.Sprintf("envelope_from=%s\nenvelope_to=%s\n", strings.Join(from, ","), strings.Join(to, ","))
			save(dir, "mail", append([]byte(head), decode(buf.Bytes())...))
			from, to = nil, nil
			reply("250 queued")
		case cmd == "RSET":
			from, to = nil, nil
			reply("250 ok")
		case cmd == "NOOP":
			reply("250 ok")
		case cmd == "QUIT":
			reply("221 bye")
			return
		default:
			reply("502 not implemented")
		}
	}
}

// decode returns the headers (Subject decoded) and every text part.
func decode(raw []byte) []byte {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return raw
	}
	var out bytes.Buffer
	subject, _ := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	fmt.Fprintf(&out, "subject=%s\nto=%s\n\n", subject, msg.Header.Get("To"))
	writeParts(&out, msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body)
	return out.Bytes()
}

func writeParts(out *bytes.Buffer, ctype, cte string, body io.Reader) {
	mt, params, err := mime.ParseMediaType(ctype)
	if err != nil {
		mt = "text/plain"
	}
	if strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if err != nil {
				return
			}
			writeParts(out, p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p)
		}
	}
	if strings.EqualFold(cte, "quoted-printable") {
		body = quotedprintable.NewReader(body)
	}
	b, _ := io.ReadAll(body)
	fmt.Fprintf(out, "--- part %s\n%s\n", mt, b)
}
