// Command deploywatch follows one batch with several WebSocket clients while
// .ci/deploy.sh replaces the binary under them, then checks the outcome:
// every client saw every event exactly once and in order up to the terminal batch.status
// (reconnecting with after_seq whenever a draining process closed it, which
// must have happened at least once), the
// batch succeeded, and every image was stored once.
//
//	deploywatch -url URL -user NAME -password-file F -batch ID [-clients 3] [-min-reconnects N] [-timeout 3m]
//	deploywatch -photo FILE   (writes the generated test photo)
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/ludeng/ludeng/internal/smoke"
)

func main() {
	url := flag.String("url", "", "server base URL")
	user := flag.String("user", "admin", "account")
	pwFile := flag.String("password-file", "", "password file")
	batch := flag.String("batch", "", "batch id")
	clients := flag.Int("clients", 3, "WebSocket clients")
	timeout := flag.Duration("timeout", 3*time.Minute, "overall")
	photo := flag.String("photo", "", "only write the smoke test's generated JPEG to this file")
	minReconnects := flag.Int("min-reconnects", 0, "each client must have reconnected at least this often (a handoff happened mid-batch)")
	flag.Parse()
	if *photo != "" {
		if err := os.WriteFile(*photo, smoke.Photo(), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "deploywatch:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(*url, *user, *pwFile, *batch, *clients, *minReconnects, *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "deploywatch: FAIL:", err)
		os.Exit(1)
	}
}

func run(url, user, pwFile, batch string, n, minReconnects int, timeout time.Duration) error {
	pw, err := os.ReadFile(pwFile)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	// One sign-in shared by the clients: password checks are rationed
	// (LUDENG_PASSWORD_HASH_SLOTS) and this is not a login test.
	c, err := smoke.Login(ctx, url, user, strings.TrimSpace(string(pw)))
	if err != nil {
		return err
	}
	results := make([]*smoke.WatchResult, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { results[i], errs[i] = c.Watch(ctx, batch) })
	}
	wg.Wait()
	var lastSeq int64 = -1
	for i := range n {
		if errs[i] != nil {
			return fmt.Errorf("client %d: %w", i+1, errs[i])
		}
		r := results[i]
		seq := r.Events[len(r.Events)-1].Seq
		fmt.Printf("deploywatch: client %d: %d events, seq 1..%d without gap or repeat, %d reconnects, batch ended %s\n",
			i+1, len(r.Events), seq, r.Reconnects, r.Status)
		if r.Reconnects < minReconnects {
			return fmt.Errorf("client %d reconnected %d times, want ≥ %d: no handoff happened while the batch ran", i+1, r.Reconnects, minReconnects)
		}
		if r.Status != "succeeded" {
			return fmt.Errorf("client %d: batch ended %s", i+1, r.Status)
		}
		if lastSeq >= 0 && seq != lastSeq {
			return fmt.Errorf("client %d ended at seq %d, another at %d", i+1, seq, lastSeq)
		}
		lastSeq = seq
	}
	return checkStoredOnce(ctx, c, batch, lastSeq)
}

// checkStoredOnce: the stored log has exactly the events the clients saw,
// one image.succeeded per image, and every image of the batch succeeded.
func checkStoredOnce(ctx context.Context, c *smoke.Client, batch string, lastSeq int64) error {
	var ev struct {
		Items []struct {
			Seq  int64          `json:"seq"`
			Type string         `json:"type"`
			Data map[string]any `json:"data"`
		} `json:"items"`
	}
	if err := c.JSON(ctx, "GET", "/api/v1/batches/"+batch+"/events", nil, &ev); err != nil {
		return err
	}
	stored := map[string]int{}
	for _, e := range ev.Items {
		if e.Type == "image.succeeded" {
			id, _ := e.Data["image_id"].(string)
			stored[id]++
		}
	}
	if n := len(ev.Items); n == 0 || ev.Items[n-1].Seq != lastSeq {
		return fmt.Errorf("the stored event log (%d events) does not end at seq %d", n, lastSeq)
	}
	var b struct {
		Status string `json:"status"`
		Groups []struct {
			Images []struct {
				ID     string `json:"id"`
				Status string `json:"status"`
			} `json:"images"`
		} `json:"groups"`
	}
	if err := c.JSON(ctx, "GET", "/api/v1/batches/"+batch, nil, &b); err != nil {
		return err
	}
	images := 0
	for _, g := range b.Groups {
		for _, im := range g.Images {
			images++
			if im.Status != "succeeded" {
				return fmt.Errorf("image %s is %s", im.ID, im.Status)
			}
			if stored[im.ID] != 1 {
				return fmt.Errorf("image %s stored %d times", im.ID, stored[im.ID])
			}
		}
	}
	if len(stored) != images {
		raw, _ := json.Marshal(stored)
		return fmt.Errorf("%d images but image.succeeded for %d: %s", images, len(stored), raw)
	}
	fmt.Printf("deploywatch: batch %s %s, %d groups, %d images each stored exactly once\n", batch, b.Status, len(b.Groups), images)
	return nil
}
