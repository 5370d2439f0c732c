package cli

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ludeng/ludeng/internal/blob"
	"github.com/ludeng/ludeng/internal/clamav"
	"github.com/ludeng/ludeng/internal/cleanup"
	"github.com/ludeng/ludeng/internal/config"
	"github.com/ludeng/ludeng/internal/pipeline"
	"github.com/ludeng/ludeng/internal/plan"
	"github.com/ludeng/ludeng/internal/provider"
	"github.com/ludeng/ludeng/internal/upload"
	"github.com/ludeng/ludeng/internal/webhook"
	"github.com/ludeng/ludeng/internal/ws"
)

// Config is the process-wide configuration shared by every subcommand.
type Config struct {
	DataDir        string         // LUDENG_DATA_DIR, default ./var
	Listen         string         // LUDENG_LISTEN, default :8080
	DatabaseURL    string         // LUDENG_DATABASE_URL, empty = SQLite in the data dir
	BaseURL        string         // LUDENG_BASE_URL, e.g. https://ludeng.example.com
	LogLevel       slog.Level     // LUDENG_LOG_LEVEL debug|info|warn|error, default info
	LogFormat      string         // LUDENG_LOG_FORMAT json|text, default text
	TrustedProxies []netip.Prefix // LUDENG_TRUSTED_PROXIES, CIDRs
	// OperatorNetworks see /metrics and the detailed /readyz without a token
	// (LUDENG_OPERATOR_NETWORKS, CIDRs; default loopback + TrustedProxies).
	OperatorNetworks []netip.Prefix
	MetricsToken     string         // LUDENG_METRICS_TOKEN(_FILE): bearer token for /metrics and the detailed /readyz
	SecretKey        []byte         // LUDENG_SECRET_KEY(_FILE), else generated into DataDir/secret.key
	MinFreeDisk      int64          // LUDENG_MIN_FREE_DISK, default 1GiB
	Timezone         *time.Location // LUDENG_TIMEZONE, default Asia/Shanghai
	Currency         string         // LUDENG_CURRENCY, default CNY
	AdminPassword    string         // LUDENG_ADMIN_PASSWORD(_FILE), first start only
	ShutdownTimeout  time.Duration  // LUDENG_SHUTDOWN_TIMEOUT, default 30s
	SessionTTL       time.Duration  // LUDENG_SESSION_TTL, default 7d
	Upload           upload.Config  // LUDENG_UPLOAD_*
	APIRate          float64        // LUDENG_API_RATE requests/s per user (all its tokens and sessions), default 20
	APIBurst         int            // LUDENG_API_BURST, default 60
	ReadTimeout      time.Duration  // LUDENG_HTTP_READ_TIMEOUT, default 30s
	WriteTimeout     time.Duration  // LUDENG_HTTP_WRITE_TIMEOUT, default 60s
	UploadMinRate    int64          // LUDENG_UPLOAD_MIN_RATE bytes/s an upload body must keep up after the grace, default 4KiB
	UploadGrace      time.Duration  // LUDENG_UPLOAD_GRACE, default 30s
	MaxTokens        int            // LUDENG_MAX_TOKENS_PER_USER live API tokens per user, default 50
	TokenMaxTTL      time.Duration  // LUDENG_TOKEN_MAX_TTL longest API token lifetime, default 365d
	HashSlots        int            // LUDENG_PASSWORD_HASH_SLOTS concurrent argon2id checks, default max(2, CPUs)
	PIDFile          string         // LUDENG_PID_FILE: written once serving (after a handoff: the new PID)
	HandoffGrace     time.Duration  // LUDENG_HANDOFF_GRACE, default 5s: old process keeps its connections this long
	UpgradeTimeout   time.Duration  // LUDENG_UPGRADE_TIMEOUT, default 2m: a new binary must be ready within it
	DrainDelay       time.Duration  // LUDENG_DRAIN_DELAY, default 0: SIGTERM → /readyz 503 this long before closing

	// The components' settings are read in the same pass, before any
	// database opens, so every bad value is reported together (exit 2).

	// BlobS3 is the bucket of LUDENG_BLOB_URL=s3://… with LUDENG_BLOB_S3_*;
	// nil keeps blobs under DataDir.
	BlobS3    *blob.S3Config
	Clamd     clamav.Config   // LUDENG_CLAMD_*; scanning is off without an address
	Providers provider.Config // LUDENG_IMAGE_PROVIDERS, LUDENG_<P>_*, LUDENG_DEEPSEEK_*, LUDENG_PROVIDER_*
	Plan      plan.Config     // LUDENG_PLAN_*
	// Pipeline is LUDENG_PIPELINE_*, LUDENG_NODE_* and LUDENG_CLEANUP_INTERVAL,
	// its estimate priced at the dearest configured provider.
	Pipeline pipeline.Config
	Cleanup  cleanup.Options // LUDENG_CLEANUP_*, LUDENG_RESULT_RETENTION
	Webhooks webhook.Config  // LUDENG_WEBHOOK_*
	Live     ws.Config       // LUDENG_WS_*
	// ClusterLimits is LUDENG_LIMITS_SCOPE=cluster (the default on
	// PostgreSQL): provider limits and the generation cap hold for all nodes.
	ClusterLimits bool
	LimitsLease   time.Duration // LUDENG_LIMITS_LEASE, 0: clusterlimit's default

	env *config.Env
}

// flagVars maps command-line flags to the variables they override.
var flagVars = map[string]string{
	"data-dir":     "LUDENG_DATA_DIR",
	"listen":       "LUDENG_LISTEN",
	"database-url": "LUDENG_DATABASE_URL",
	"base-url":     "LUDENG_BASE_URL",
	"log-level":    "LUDENG_LOG_LEVEL",
	"log-format":   "LUDENG_LOG_FORMAT",
}

// loadConfig reads and validates the environment. Every bad variable is
// reported as "NAME: reason".
func loadConfig(getenv func(string) string) (*Config, error) {
	env := config.NewEnv(getenv)
	c := &Config{env: env}
	c.DataDir = env.String("LUDENG_DATA_DIR", "./var")
	c.Listen = env.String("LUDENG_LISTEN", ":8080")
	c.DatabaseURL = env.String("LUDENG_DATABASE_URL", "")
	if c.DatabaseURL != "" && !strings.HasPrefix(c.DatabaseURL, "postgres://") && !strings.HasPrefix(c.DatabaseURL, "postgresql://") {
		env.Fail("LUDENG_DATABASE_URL", "must be empty (SQLite in the data dir) or a postgres:// URL")
	}
	c.BaseURL = strings.TrimRight(env.String("LUDENG_BASE_URL", ""), "/")
	if c.BaseURL != "" && !strings.HasPrefix(c.BaseURL, "http://") && !strings.HasPrefix(c.BaseURL, "https://") {
		env.Fail("LUDENG_BASE_URL", "must start with http:// or https://, got %q", c.BaseURL)
	}
	switch lv := env.OneOf("LUDENG_LOG_LEVEL", "info", "debug", "info", "warn", "error"); lv {
	case "debug":
		c.LogLevel = slog.LevelDebug
	case "warn":
		c.LogLevel = slog.LevelWarn
	case "error":
		c.LogLevel = slog.LevelError
	default:
		c.LogLevel = slog.LevelInfo
	}
	c.LogFormat = env.OneOf("LUDENG_LOG_FORMAT", "text", "json", "text")
	c.TrustedProxies = prefixes(env, "LUDENG_TRUSTED_PROXIES")
	c.OperatorNetworks = prefixes(env, "LUDENG_OPERATOR_NETWORKS")
	c.MetricsToken = env.Secret("LUDENG_METRICS_TOKEN")
	if c.MetricsToken != "" && len(c.MetricsToken) < 16 {
		env.Fail("LUDENG_METRICS_TOKEN", "must be at least 16 characters")
	}
	if k := env.Secret("LUDENG_SECRET_KEY"); k != "" {
		if len(k) < 32 {
			env.Fail("LUDENG_SECRET_KEY", "must be at least 32 characters")
		}
		c.SecretKey = []byte(k)
	}
	c.MinFreeDisk = env.Bytes("LUDENG_MIN_FREE_DISK", 1<<30)
	tz := env.String("LUDENG_TIMEZONE", "Asia/Shanghai")
	loc, err := time.LoadLocation(tz)
	if err != nil {
		env.Fail("LUDENG_TIMEZONE", "unknown time zone %q", tz)
		loc = time.UTC
	}
	c.Timezone = loc
	c.Currency = env.String("LUDENG_CURRENCY", "CNY")
	if len(c.Currency) != 3 || strings.ToUpper(c.Currency) != c.Currency {
		env.Fail("LUDENG_CURRENCY", "must be a 3-letter ISO 4217 code such as CNY or USD, got %q", c.Currency)
	}
	c.AdminPassword = env.Secret("LUDENG_ADMIN_PASSWORD")
	c.ShutdownTimeout = env.Duration("LUDENG_SHUTDOWN_TIMEOUT", 30*time.Second)
	c.SessionTTL = env.Duration("LUDENG_SESSION_TTL", 7*24*time.Hour)
	// Read with the rest, before the database opens: /api/v1/meta
	// advertises the upload limit the intake enforces.
	c.Upload = upload.ConfigFromEnv(env)
	c.APIRate = env.Float("LUDENG_API_RATE", 20)
	c.APIBurst = env.Int("LUDENG_API_BURST", 60, 1, 100000)
	c.ReadTimeout = env.Duration("LUDENG_HTTP_READ_TIMEOUT", 30*time.Second)
	c.WriteTimeout = env.Duration("LUDENG_HTTP_WRITE_TIMEOUT", 60*time.Second)
	c.UploadMinRate = env.Bytes("LUDENG_UPLOAD_MIN_RATE", 4<<10)
	if c.UploadMinRate < 1 {
		env.Fail("LUDENG_UPLOAD_MIN_RATE", "must be at least 1 byte per second")
	}
	c.UploadGrace = env.Duration("LUDENG_UPLOAD_GRACE", 30*time.Second)
	c.MaxTokens = env.Int("LUDENG_MAX_TOKENS_PER_USER", 50, 1, 10000)
	c.TokenMaxTTL = env.Duration("LUDENG_TOKEN_MAX_TTL", 365*24*time.Hour)
	c.HashSlots = env.Int("LUDENG_PASSWORD_HASH_SLOTS", 0, 0, 256)
	c.PIDFile = env.String("LUDENG_PID_FILE", "")
	c.HandoffGrace = env.Duration("LUDENG_HANDOFF_GRACE", 5*time.Second)
	c.UpgradeTimeout = env.Duration("LUDENG_UPGRADE_TIMEOUT", 2*time.Minute)
	c.DrainDelay = env.Duration("LUDENG_DRAIN_DELAY", 0)
	if c.APIRate == 0 {
		env.Fail("LUDENG_API_RATE", "must be > 0")
	}
	c.readComponents(env)
	return c, env.Err()
}

// readComponents reads every component's variables into c. Whether the
// database is PostgreSQL is known from its URL, so the choices that need
// it are checked here too, before anything opens.
func (c *Config) readComponents(env *config.Env) {
	postgres := c.DatabaseURL != ""
	switch raw := env.String("LUDENG_BLOB_URL", ""); {
	case raw == "" || raw == "file:" || raw == "file://":
	case strings.HasPrefix(raw, "s3://"):
		s3 := blob.S3ConfigFromEnv(env, "LUDENG_BLOB_URL", raw)
		c.BlobS3 = &s3
	default:
		env.Fail("LUDENG_BLOB_URL", "want empty (the data directory) or s3://bucket/prefix, got %q", raw)
	}
	c.Clamd = clamav.ConfigFromEnv(env)
	// The provider reader records its problems on env; the returned copy
	// of them is for callers without an Env.
	c.Providers, _ = provider.ConfigFromEnv(env)
	c.Plan = plan.ConfigFromEnv(env)
	c.Pipeline = pipeline.ConfigFromEnv(env)
	// The estimate uses the dearest configured provider (fallbacks may serve).
	for _, p := range c.Providers.Providers {
		c.Pipeline.PricePerImage = max(c.Pipeline.PricePerImage, p.PricePerImageMicros)
		c.Pipeline.PricePerImage1536 = max(c.Pipeline.PricePerImage1536, p.PricePerImage1536Micros)
	}
	c.Pipeline.Location = c.Timezone
	if c.Pipeline.APIOnly && !postgres {
		env.Fail("LUDENG_PIPELINE_WORKERS", "false needs PostgreSQL, where other nodes run the jobs")
	}
	c.Cleanup = cleanup.OptionsFromEnv(env)
	c.Webhooks = webhook.ConfigFromEnv(env)
	c.Live = ws.ConfigFromEnv(env, c.BaseURL)
	def := "node"
	if postgres {
		def = "cluster"
	}
	c.ClusterLimits = env.OneOf("LUDENG_LIMITS_SCOPE", def, "cluster", "node") == "cluster"
	if c.ClusterLimits && !postgres {
		env.Fail("LUDENG_LIMITS_SCOPE", "cluster needs PostgreSQL (SQLite runs one node)")
	}
	c.LimitsLease = env.Duration("LUDENG_LIMITS_LEASE", 0)
}

// prefixes reads a comma-separated list of CIDRs or single addresses.
func prefixes(env *config.Env, name string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range env.List(name) {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				env.Fail(name, "not a CIDR or address: %q", s)
				continue
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p.Masked())
	}
	return out
}

// ensureSecretKey loads or creates DataDir/secret.key (0600) when
// LUDENG_SECRET_KEY is unset, so signed links and sessions survive restarts.
func (c *Config) ensureSecretKey() error {
	if len(c.SecretKey) > 0 {
		return nil
	}
	if err := os.MkdirAll(c.DataDir, 0o750); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	path := filepath.Join(c.DataDir, "secret.key")
	b, err := os.ReadFile(path)
	if err == nil && len(strings.TrimSpace(string(b))) >= 32 {
		c.SecretKey = []byte(strings.TrimSpace(string(b)))
		return nil
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("read secret key: %w", err)
	}
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	key := hex.EncodeToString(raw)
	if err := os.WriteFile(path, []byte(key+"\n"), 0o600); err != nil {
		return fmt.Errorf("write secret key: %w", err)
	}
	c.SecretKey = []byte(key)
	return nil
}

func (c *Config) newLogger(w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.LogLevel}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
