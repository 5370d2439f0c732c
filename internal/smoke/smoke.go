// Package smoke checks a running ludeng end to end over its public API, the
// way a user does: log in, upload a photo, run a one-group batch, download
// its zip, follow it over the WebSocket. deploy/ludeng-deploy runs it after
// every switch and rolls back when any step fails; CI uses Watch to follow
// batches across binary handoffs.
package smoke

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"time"

	"github.com/coder/websocket"
)

// Client is a signed-in API session.
type Client struct {
	Base string
	hc   *http.Client
}

// Login signs in with a password and keeps the session cookie.
func Login(ctx context.Context, base, user, password string) (*Client, error) {
	jar, _ := cookiejar.New(nil)
	c := &Client{Base: strings.TrimRight(base, "/"), hc: &http.Client{Jar: jar, Timeout: 60 * time.Second}}
	var out map[string]any
	for attempt := 1; ; attempt++ {
		err := c.JSON(ctx, "POST", "/api/v1/auth/login", map[string]string{"username": user, "password": password}, &out)
		if err == nil {
			return c, nil
		}
		// 503 auth_busy: every password-check slot is taken (a loaded
		// server); the answer asks to retry in a moment.
		var se *StatusError
		if !errors.As(err, &se) || se.Status != http.StatusServiceUnavailable || attempt == 5 {
			return nil, fmt.Errorf("login as %s: %w", user, err)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("login as %s: %w", user, err)
		case <-time.After(time.Duration(attempt) * 500 * time.Millisecond):
		}
	}
}

// StatusError is an answer outside 2xx.
type StatusError struct {
	Method, Path string
	Status       int
	Body         string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s %s: HTTP %d %s", e.Method, e.Path, e.Status, e.Body)
}

// Do sends a request like a same-origin browser and returns the body of a
// 2xx answer.
func (c *Client) Do(ctx context.Context, method, path, ctype string, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	res, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: read body: %w", method, path, err)
	}
	if res.StatusCode/100 != 2 {
		return nil, &StatusError{Method: method, Path: path, Status: res.StatusCode, Body: strings.TrimSpace(string(b[:min(len(b), 300)]))}
	}
	return b, nil
}

// JSON sends in as JSON (nil: no body) and decodes the answer into out.
func (c *Client) JSON(ctx context.Context, method, path string, in, out any) error {
	var body []byte
	ctype := ""
	if in != nil {
		body, _ = json.Marshal(in)
		ctype = "application/json"
	}
	b, err := c.Do(ctx, method, path, ctype, body)
	if err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s %s: decode: %w", method, path, err)
	}
	return nil
}

// Photo is a generated 900×1200 JPEG the upload checks accept.
func Photo() []byte {
	m := image.NewRGBA(image.Rect(0, 0, 900, 1200))
	for y := range 1200 {
		for x := range 900 {
			m.SetRGBA(x, y, color.RGBA{uint8(x * 7), uint8(y * 5), uint8(x * y), 255})
		}
	}
	var buf bytes.Buffer
	_ = jpeg.Encode(&buf, m, &jpeg.Options{Quality: 85})
	return buf.Bytes()
}

// Upload stores a photo and returns its id.
func (c *Client) Upload(ctx context.Context, photo []byte) (string, error) {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	w, _ := mw.CreateFormFile("file", "lamp.jpg")
	_, _ = w.Write(photo)
	_ = mw.Close()
	b, err := c.Do(ctx, "POST", "/api/v1/uploads", mw.FormDataContentType(), body.Bytes())
	if err != nil {
		return "", err
	}
	var m struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(b, &m); err != nil || m.ID == "" {
		return "", fmt.Errorf("upload: no id in %s", b)
	}
	return m.ID, nil
}

// CreateBatch starts a smart batch without prompt enhancement.
func (c *Client) CreateBatch(ctx context.Context, uploadID string, groups int) (string, error) {
	var m struct {
		ID string `json:"id"`
	}
	err := c.JSON(ctx, "POST", "/api/v1/batches", map[string]any{"upload_id": uploadID, "mode": "smart", "groups": groups, "enhance": "off"}, &m)
	if err != nil {
		return "", err
	}
	return m.ID, nil
}

// Terminal reports whether a batch status is final.
func Terminal(status string) bool {
	switch status {
	case "succeeded", "partially_failed", "failed", "cancelled":
		return true
	}
	return false
}

// WaitBatch polls until the batch is terminal and returns its status.
func (c *Client) WaitBatch(ctx context.Context, id string) (string, error) {
	for {
		var v struct {
			Status string `json:"status"`
		}
		if err := c.JSON(ctx, "GET", "/api/v1/batches/"+id, nil, &v); err != nil {
			return "", err
		}
		if Terminal(v.Status) {
			return v.Status, nil
		}
		select {
		case <-ctx.Done():
			return v.Status, fmt.Errorf("batch %s still %s: %w", id, v.Status, ctx.Err())
		case <-time.After(300 * time.Millisecond):
		}
	}
}

// DownloadZip fetches the batch's zip and returns how many images it holds.
func (c *Client) DownloadZip(ctx context.Context, id string) (int, error) {
	b, err := c.Do(ctx, "GET", "/api/v1/batches/"+id+"/download", "", nil)
	if err != nil {
		return 0, err
	}
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return 0, fmt.Errorf("download: not a zip (%d bytes): %w", len(b), err)
	}
	n := 0
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			return 0, fmt.Errorf("download: %s: %w", f.Name, err)
		}
		_, err = io.Copy(io.Discard, rc)
		rc.Close()
		if err != nil {
			return 0, fmt.Errorf("download: %s: %w", f.Name, err)
		}
		if strings.HasSuffix(f.Name, ".jpg") || strings.HasSuffix(f.Name, ".png") || strings.HasSuffix(f.Name, ".webp") {
			n++
		}
	}
	return n, nil
}

// Event is one batch event received over the WebSocket.
type Event struct {
	Seq  int64
	Kind string
	Data json.RawMessage
}

// WatchResult is what Watch saw.
type WatchResult struct {
	Events     []Event
	Reconnects int
	Status     string // the terminal batch status
}

// Watch follows a batch over the WebSocket from its first event until its
// terminal batch.status event. When the connection ends (a server drains,
// a binary handoff) it reconnects and resubscribes with after_seq = the
// last seq received. Every event must arrive exactly once and in order:
// a gap or a repeat is an error.
func (c *Client) Watch(ctx context.Context, batchID string) (*WatchResult, error) {
	res := &WatchResult{}
	var last int64
	for {
		done, err := c.watchOnce(ctx, batchID, &last, res)
		if done {
			return res, nil
		}
		var ge *gapError
		if errors.As(err, &ge) {
			return res, err
		}
		if ctx.Err() != nil {
			return res, fmt.Errorf("watch %s: %d events, last seq %d, %d reconnects: %w (last error: %v)", batchID, len(res.Events), last, res.Reconnects, ctx.Err(), err)
		}
		res.Reconnects++
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
}

type gapError struct{ msg string }

func (e *gapError) Error() string { return e.msg }

func (c *Client) watchOnce(ctx context.Context, batchID string, last *int64, res *WatchResult) (bool, error) {
	u, err := url.Parse(c.Base + "/api/v1/ws")
	if err != nil {
		return false, err
	}
	hdr := http.Header{}
	for _, ck := range c.hc.Jar.Cookies(u) {
		hdr.Add("Cookie", ck.Name+"="+ck.Value)
	}
	u.Scheme = strings.Replace(u.Scheme, "http", "ws", 1)
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	conn, _, err := websocket.Dial(dctx, u.String(), &websocket.DialOptions{HTTPHeader: hdr})
	cancel()
	if err != nil {
		return false, fmt.Errorf("websocket dial: %w", err)
	}
	defer conn.CloseNow()
	conn.SetReadLimit(1 << 20)
	after := *last
	sub, _ := json.Marshal(map[string]any{"type": "subscribe", "batch_id": batchID, "after_seq": after})
	if err := conn.Write(ctx, websocket.MessageText, sub); err != nil {
		return false, fmt.Errorf("websocket subscribe: %w", err)
	}
	for {
		_, raw, err := conn.Read(ctx)
		if err != nil {
			return false, fmt.Errorf("websocket read: %w", err)
		}
		var m struct {
			Type   string          `json:"type"`
			Seq    *int64          `json:"seq"`
			Kind   string          `json:"kind"`
			Data   json.RawMessage `json:"data"`
			Code   string          `json:"code"`
			Detail string          `json:"detail"`
		}
		if err := json.Unmarshal(raw, &m); err != nil {
			return false, fmt.Errorf("websocket message: %w", err)
		}
		switch m.Type {
		case "error":
			return false, fmt.Errorf("websocket error %s: %s", m.Code, m.Detail)
		case "event":
		default:
			continue // snapshot, pong…
		}
		if m.Seq == nil {
			return false, &gapError{"event without seq"}
		}
		if *m.Seq != *last+1 {
			return false, &gapError{fmt.Sprintf("batch %s: got seq %d after %d (a gap or a repeat)", batchID, *m.Seq, *last)}
		}
		*last = *m.Seq
		res.Events = append(res.Events, Event{Seq: *m.Seq, Kind: m.Kind, Data: m.Data})
		// The stream carries the event log's own kinds: a batch ends with
		// the batch.status event that moves it to a terminal status.
		// Releases before the one event vocabulary sent batch_done instead;
		// a rolling deploy smoke-tests those too (the old binary on the
		// migrated schema), so both end the watch.
		if m.Kind == "batch.status" || m.Kind == "batch_done" {
			var d struct {
				Status string `json:"status"`
			}
			_ = json.Unmarshal(m.Data, &d)
			if Terminal(d.Status) {
				res.Status = d.Status
				_ = conn.Close(websocket.StatusNormalClosure, "")
				return true, nil
			}
		}
	}
}

func defaultHTTP() *http.Client { return &http.Client{Timeout: 30 * time.Second} }
