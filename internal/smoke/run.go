package smoke

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// Options are the smoke run's inputs.
type Options struct {
	URL      string
	User     string
	Password string
	// Version, when set, must be what /api/v1/meta reports.
	Version string
	// Batch: "auto" runs the one-group batch only when the server simulates
	// images (staging, CI: nothing is spent), "always" runs it anyway,
	// "never" skips it (and so the download and the WebSocket steps).
	Batch   string
	Timeout time.Duration
}

// Run performs the steps in order, printing "smoke ok   <step>" lines to
// out, and returns the first failure as "smoke step <step>: <cause>".
func Run(ctx context.Context, o Options, out io.Writer) error {
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	start := time.Now()
	step := func(name string, fn func() (string, error)) error {
		t := time.Now()
		detail, err := fn()
		if err != nil {
			return fmt.Errorf("smoke step %q failed: %w", name, err)
		}
		fmt.Fprintf(out, "smoke ok   %-18s %6dms  %s\n", name, time.Since(t).Milliseconds(), detail)
		return nil
	}
	var meta struct {
		Version   string `json:"version"`
		Simulated bool   `json:"simulated"`
	}
	if err := step("readyz", func() (string, error) {
		c := &Client{Base: o.URL, hc: defaultHTTP()}
		b, err := c.Do(ctx, "GET", "/readyz", "", nil)
		if err != nil {
			return "", err
		}
		mb, err := c.Do(ctx, "GET", "/api/v1/meta", "", nil)
		if err != nil {
			return "", err
		}
		if err := json.Unmarshal(mb, &meta); err != nil {
			return "", fmt.Errorf("meta: %w", err)
		}
		if o.Version != "" && meta.Version != o.Version {
			return "", fmt.Errorf("serving version %q, want %q", meta.Version, o.Version)
		}
		return fmt.Sprintf("version %s, %d-byte readiness report", meta.Version, len(b)), nil
	}); err != nil {
		return err
	}
	var c *Client
	if err := step("login", func() (string, error) {
		var err error
		c, err = Login(ctx, o.URL, o.User, o.Password)
		return "as " + o.User, err
	}); err != nil {
		return err
	}
	var upload string
	if err := step("upload", func() (string, error) {
		var err error
		upload, err = c.Upload(ctx, Photo())
		return "upload " + upload, err
	}); err != nil {
		return err
	}
	run := o.Batch == "always" || (o.Batch != "never" && meta.Simulated)
	if !run {
		fmt.Fprintf(out, "smoke skip batch, download, websocket (images are not simulated here; --batch=always spends a real generation)\n")
		fmt.Fprintf(out, "smoke passed in %dms\n", time.Since(start).Milliseconds())
		return nil
	}
	var batch string
	if err := step("batch create", func() (string, error) {
		var err error
		batch, err = c.CreateBatch(ctx, upload, 1)
		return "batch " + batch, err
	}); err != nil {
		return err
	}
	if err := step("websocket", func() (string, error) {
		res, err := c.Watch(ctx, batch)
		if err != nil {
			return "", err
		}
		if res.Status != "succeeded" {
			return "", fmt.Errorf("batch ended %s", res.Status)
		}
		return fmt.Sprintf("%d events in order to the batch's end (%s)", len(res.Events), res.Status), nil
	}); err != nil {
		return err
	}
	if err := step("batch result", func() (string, error) {
		st, err := c.WaitBatch(ctx, batch)
		if err == nil && st != "succeeded" {
			err = fmt.Errorf("batch ended %s", st)
		}
		return st, err
	}); err != nil {
		return err
	}
	if err := step("zip download", func() (string, error) {
		n, err := c.DownloadZip(ctx, batch)
		if err == nil && n == 0 {
			err = fmt.Errorf("the zip holds no image")
		}
		return fmt.Sprintf("%d images", n), err
	}); err != nil {
		return err
	}
	fmt.Fprintf(out, "smoke passed in %dms\n", time.Since(start).Milliseconds())
	return nil
}
