package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/ludeng/ludeng/internal/blob"
)

func init() {
	extraCommands["blobs"] = cmdBlobs
}

// cmdBlobs implements `ludeng blobs migrate --to s3://bucket/prefix`.
func cmdBlobs(ctx context.Context, args []string, stdio IO) error {
	if len(args) == 0 || args[0] != "migrate" {
		return usageErr("usage: ludeng blobs migrate --to s3://bucket/prefix [--json]")
	}
	fs, load := newFlags("blobs migrate", stdio)
	to := fs.String("to", "", "destination bucket, s3://bucket/prefix (endpoint and keys from LUDENG_BLOB_S3_*)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	quiet := fs.Bool("quiet", false, "do not print one line per key")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if !strings.HasPrefix(*to, "s3://") {
		return usageErr("--to must be s3://bucket/prefix")
	}
	cfg, err := load()
	if err != nil {
		return err
	}
	src, err := blob.NewLocal(cfg.DataDir)
	if err != nil {
		return err
	}
	scfg := blob.S3ConfigFromEnv(cfg.env, "--to", *to)
	if err := cfg.env.Err(); err != nil {
		return &exitError{code: 2, err: err}
	}
	dst, err := blob.NewS3(scfg, nil)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	if err := dst.Check(ctx); err != nil {
		return err
	}
	progress := func(key string, copied bool) {
		if *quiet || *asJSON {
			return
		}
		verb := "present"
		if copied {
			verb = "copied"
		}
		fmt.Fprintf(stdio.Stdout, "%s %s\n", verb, key)
	}
	// Only the blob layouts move; the data directory also holds the
	// SQLite database, secret key and temp files, which stay local.
	var total blob.CopyReport
	for _, prefix := range []string{blob.ContentPrefix, blob.VariantPrefix, blob.ResultPrefix} {
		rep, err := blob.Copy(ctx, src, dst, prefix, progress)
		total.Copied += rep.Copied
		total.Verified += rep.Verified
		total.Bytes += rep.Bytes
		total.Failed = append(total.Failed, rep.Failed...)
		if err != nil {
			return err
		}
	}
	if *asJSON {
		if err := json.NewEncoder(stdio.Stdout).Encode(total); err != nil {
			return err
		}
	} else {
		for _, f := range total.Failed {
			fmt.Fprintf(stdio.Stdout, "FAILED %s: %s\n", f.Key, f.Error)
		}
		fmt.Fprintf(stdio.Stdout, "copied %d (%d bytes), already present and verified %d, failed %d, to %s\n",
			total.Copied, total.Bytes, total.Verified, len(total.Failed), dst)
	}
	if len(total.Failed) > 0 {
		return fmt.Errorf("%d blobs were not migrated; fix them and run the command again", len(total.Failed))
	}
	return nil
}
