package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// notification is the part of Alertmanager's webhook payload (version 4)
// the messages use.
type notification struct {
	Version     string            `json:"version"`
	Status      string            `json:"status"`
	Receiver    string            `json:"receiver"`
	CommonLabel map[string]string `json:"commonLabels"`
	ExternalURL string            `json:"externalURL"`
	Alerts      []alert           `json:"alerts"`
}

type alert struct {
	Status      string            `json:"status"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	StartsAt    time.Time         `json:"startsAt"`
	EndsAt      time.Time         `json:"endsAt"`
}

type bridge struct {
	secrets string
	client  *http.Client
	logger  *slog.Logger
	now     func() time.Time
}

// Robot names become file names: keep them to a safe alphabet.
var validName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// maxBody bounds a notification: Alertmanager's max_alerts keeps real ones
// far smaller.
const maxBody = 1 << 20

// WeCom rejects markdown content above 4096 bytes; Feishu text above 150 KB.
const (
	wecomLimit  = 4096
	feishuLimit = 30000
)

func (b *bridge) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /wecom/{name}", b.handle("wecom"))
	mux.HandleFunc("POST /feishu/{name}", b.handle("feishu"))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	return mux
}

func (b *bridge) handle(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		if !validName.MatchString(name) {
			http.Error(w, "bad robot name", http.StatusNotFound)
			return
		}
		var n notification
		dec := json.NewDecoder(io.LimitReader(r.Body, maxBody))
		if err := dec.Decode(&n); err != nil || len(n.Alerts) == 0 {
			http.Error(w, "not an Alertmanager notification", http.StatusBadRequest)
			return
		}
		err := b.send(r.Context(), kind, name, n)
		if err != nil {
			// The robot URL is a secret (its key is in the query): log
			// the robot's name, never the URL.
			b.logger.Error("relay failed", slog.String("kind", kind), slog.String("robot", name), slog.String("error", err.Error()))
			http.Error(w, "relay failed", http.StatusBadGateway)
			return
		}
		b.logger.Info("relayed", slog.String("kind", kind), slog.String("robot", name),
			slog.String("status", n.Status), slog.Int("alerts", len(n.Alerts)))
		w.WriteHeader(http.StatusOK)
	}
}

func (b *bridge) send(ctx context.Context, kind, name string, n notification) error {
	base := filepath.Join(b.secrets, kind+"-"+name)
	raw, err := os.ReadFile(base + ".url")
	if err != nil {
		return fmt.Errorf("read robot URL: %w", err)
	}
	url := strings.TrimSpace(string(raw))
	var body any
	switch kind {
	case "wecom":
		body = map[string]any{"msgtype": "markdown", "markdown": map[string]string{"content": truncate(markdown(n), wecomLimit)}}
	case "feishu":
		msg := map[string]any{"msg_type": "text", "content": map[string]string{"text": truncate(plain(n), feishuLimit)}}
		secret, err := os.ReadFile(base + ".secret")
		switch {
		case err == nil:
			ts := strconv.FormatInt(b.now().Unix(), 10)
			msg["timestamp"] = ts
			msg["sign"] = feishuSign(ts, strings.TrimSpace(string(secret)))
		case !errors.Is(err, os.ErrNotExist):
			return fmt.Errorf("read signing secret: %w", err)
		}
		body = msg
	}
	buf, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("encode %s message: %w", kind, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(buf))
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := b.client.Do(req)
	if err != nil {
		// *url.Error repeats the URL, which holds the robot key.
		var ue interface{ Unwrap() error }
		if errors.As(err, &ue) && ue.Unwrap() != nil {
			err = ue.Unwrap()
		}
		return fmt.Errorf("post to robot: %w", err)
	}
	defer resp.Body.Close()
	reply, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("robot answered HTTP %d", resp.StatusCode)
	}
	return robotError(kind, reply)
}

// robotError reads the robot's answer: both answer HTTP 200 with an error
// code in the body when they refuse a message (bad key, rate limit).
func robotError(kind string, reply []byte) error {
	var r struct {
		ErrCode    *int   `json:"errcode"` // WeCom
		ErrMsg     string `json:"errmsg"`
		Code       *int   `json:"code"` // Feishu
		Msg        string `json:"msg"`
		StatusCode *int   `json:"StatusCode"` // Feishu, older robots
	}
	if err := json.Unmarshal(reply, &r); err != nil {
		return fmt.Errorf("%s robot answered something that is not JSON", kind)
	}
	switch {
	case r.ErrCode != nil && *r.ErrCode != 0:
		return fmt.Errorf("wecom robot refused: errcode %d %s", *r.ErrCode, r.ErrMsg)
	case r.Code != nil && *r.Code != 0:
		return fmt.Errorf("feishu robot refused: code %d %s", *r.Code, r.Msg)
	case r.StatusCode != nil && *r.StatusCode != 0:
		return fmt.Errorf("feishu robot refused: StatusCode %d", *r.StatusCode)
	case r.ErrCode == nil && r.Code == nil && r.StatusCode == nil:
		return fmt.Errorf("%s robot answer has no status code", kind)
	}
	return nil
}

// feishuSign is Feishu's custom-robot signature: HMAC-SHA256 with key
// "<timestamp>\n<secret>" over an empty message, base64.
func feishuSign(ts, secret string) string {
	m := hmac.New(sha256.New, []byte(ts+"\n"+secret))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func title(n notification) string {
	s := strings.ToUpper(n.Status)
	name := n.CommonLabel["alertname"]
	if name == "" && len(n.Alerts) > 0 {
		name = n.Alerts[0].Labels["alertname"]
	}
	s += " " + name
	if node := n.CommonLabel["node"]; node != "" {
		s += " on " + node
	}
	if sev := n.CommonLabel["severity"]; sev != "" {
		s += " · " + sev
	}
	return s
}

func markdown(n notification) string {
	var sb strings.Builder
	color := "warning"
	if n.Status == "resolved" {
		color = "info"
	}
	fmt.Fprintf(&sb, "<font color=\"%s\">**%s**</font>\n", color, title(n))
	for _, a := range n.Alerts {
		fmt.Fprintf(&sb, "> %s: %s\n", strings.ToUpper(a.Status), a.Annotations["summary"])
		if d := a.Annotations["description"]; d != "" {
			fmt.Fprintf(&sb, "> %s\n", d)
		}
		if u := a.Annotations["runbook_url"]; u != "" {
			fmt.Fprintf(&sb, "> [Runbook](%s)\n", u)
		}
	}
	return sb.String()
}

func plain(n notification) string {
	var sb strings.Builder
	sb.WriteString(title(n) + "\n")
	for _, a := range n.Alerts {
		fmt.Fprintf(&sb, "\n%s: %s\n", strings.ToUpper(a.Status), a.Annotations["summary"])
		if d := a.Annotations["description"]; d != "" {
			sb.WriteString(d + "\n")
		}
		if u := a.Annotations["runbook_url"]; u != "" {
			sb.WriteString("Runbook: " + u + "\n")
		}
	}
	return sb.String()
}

// truncate cuts s to at most limit bytes on a UTF-8 boundary.
func truncate(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	const more = "\n…"
	cut := limit - len(more)
	for cut > 0 && (s[cut]&0xC0) == 0x80 {
		cut--
	}
	return s[:cut] + more
}
