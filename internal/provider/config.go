package provider

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/url"
	"strings"
	"time"

	"github.com/ludeng/ludeng/internal/config"
)

// Config is the whole provider layer's configuration.
type Config struct {
	// Providers in fallback order. Empty means the simulator serves everything.
	Providers []ProviderConfig
	// DeepSeek configures the prompt enhancer; no key means template prompts.
	DeepSeek DeepSeekConfig
	// Retry applies to every provider.
	Retry RetryPolicy
	// Breaker applies to every provider.
	Breaker BreakerConfig
	// QuotaCooldown is how long a provider that reported an exhausted
	// balance without a reset time is skipped. Default 1h; an admin Reset
	// ends it early.
	QuotaCooldown time.Duration
	// AuthCooldown is how long a provider that refused the key or lost its
	// model is skipped. Default 10m: long enough to stop hammering, short
	// enough that a rotated key (NAME_FILE) is picked up without a restart.
	AuthCooldown time.Duration
	// Location is where "spend today" days start; default time.Local.
	Location *time.Location
}

// ProviderConfig configures one image provider. Its LogValue omits the key.
type ProviderConfig struct {
	// Name is gemini, openrouter, openai or kie; it is also the Kind.
	Name string
	// APIKey authenticates; required.
	APIKey string
	// BaseURL is the API root; set it to use a relay or the fakes.
	BaseURL string
	// Model is the model id sent to the API (ids churn: always configurable).
	Model string
	// PricePerImageMicros is the cost of one 1024 image in micro-units of
	// LUDENG_CURRENCY; PricePerImage1536Micros of one 1536 image (defaults to
	// the 1024 price).
	PricePerImageMicros     int64
	PricePerImage1536Micros int64
	// Limits are the client-side rate limits and concurrency cap.
	Limits Limits
	// Timeout bounds one generate attempt (for kie: one whole task incl. polling).
	Timeout time.Duration
	// ProbeTimeout bounds a health probe; default 10s.
	ProbeTimeout time.Duration

	// Quality is OpenAI's quality (low|medium|high|auto); default medium.
	Quality string
	// InputFidelity is OpenAI's input_fidelity; default high (keeps the product's look).
	InputFidelity string

	// UploadURL is kie's file-upload API root; default the kie base URL when
	// that was overridden, else https://kieai.redpandaai.co.
	UploadURL string
	// CallbackURL is ludeng's public base URL; when set (with
	// CallbackSecret) kie is asked to POST results to
	// CallbackURL + /api/v1/hooks/kie/{secret}. Polling continues regardless.
	CallbackURL    string
	CallbackSecret string
	// PollInterval is the first kie poll delay (default 2s), growing ×1.5 up
	// to PollMaxInterval (default 15s).
	PollInterval, PollMaxInterval time.Duration
}

// LogValue keeps secrets out of logs.
func (c ProviderConfig) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("name", c.Name),
		slog.String("base_url", c.BaseURL),
		slog.String("model", c.Model),
		slog.Bool("has_key", c.APIKey != ""),
	)
}

// DeepSeekConfig configures the prompt enhancer.
type DeepSeekConfig struct {
	APIKey  string
	BaseURL string // default https://api.deepseek.com
	Model   string // default deepseek-flash
	// Mode is the default enhancement mode: creative, balanced or precise.
	Mode Mode
	// Prices per 1M tokens in micro-units: cache-hit input, cache-miss input, output.
	PriceInputHitMicros, PriceInputMicros, PriceOutputMicros int64
	// Timeout bounds one call including DeepSeek's keep-alive wait; default 3m.
	Timeout time.Duration
	// MaxAttempts includes retries of empty answers; default 3.
	MaxAttempts int
	// CacheSize is the number of enhanced prompts kept in memory; default 4096.
	CacheSize int
}

// LogValue keeps the key out of logs.
func (c DeepSeekConfig) LogValue() slog.Value {
	return slog.GroupValue(slog.String("base_url", c.BaseURL), slog.String("model", c.Model),
		slog.Bool("has_key", c.APIKey != ""))
}

// providerDefaults are the documented defaults per kind. Prices are list
// prices in USD as researched in 2026-11 (see docs/providers.md); set
// LUDENG_<P>_PRICE_PER_IMAGE for another currency or price.
var providerDefaults = map[Kind]ProviderConfig{
	KindGemini: {
		BaseURL: "https://generativelanguage.googleapis.com", Model: "gemini-nano-banana-2.1",
		PricePerImageMicros: 33_600, PricePerImage1536Micros: 50_400,
		Limits:  Limits{RPM: 10, IPM: 10, Concurrency: 5},
		Timeout: 150 * time.Second,
	},
	KindOpenRouter: {
		BaseURL: "https://openrouter.ai/api/v1", Model: "google/gemini-3-pro-image",
		PricePerImageMicros: 134_000, PricePerImage1536Micros: 134_000,
		Limits:  Limits{RPM: 20, IPM: 20, Concurrency: 5},
		Timeout: 300 * time.Second,
	},
	KindOpenAI: {
		BaseURL: "https://api.openai.com/v1", Model: "gpt-image-1.5",
		PricePerImageMicros: 50_000, PricePerImage1536Micros: 50_000,
		Limits:  Limits{RPM: 10, IPM: 10, Concurrency: 5},
		Timeout: 180 * time.Second, Quality: "medium", InputFidelity: "high",
	},
	KindKie: {
		BaseURL: "https://api.kie.ai", Model: "google/nano-banana-edit",
		PricePerImageMicros: 30_000, PricePerImage1536Micros: 30_000,
		Limits:       Limits{RPM: 20, IPM: 20, Concurrency: 5},
		Timeout:      15 * time.Minute,
		PollInterval: 2 * time.Second, PollMaxInterval: 15 * time.Second,
	},
}

const defaultKieUploadURL = "https://kieai.redpandaai.co"

// ConfigFromEnv reads LUDENG_IMAGE_PROVIDERS, LUDENG_<P>_* and
// LUDENG_DEEPSEEK_*. Every problem is recorded on env as "NAME: reason" (so
// the binary exits 2 naming the variable) and the same problems are returned.
func ConfigFromEnv(env *config.Env) (Config, error) {
	before := countErrs(env.Err())
	var cfg Config
	seen := map[string]bool{}
	for _, name := range env.List("LUDENG_IMAGE_PROVIDERS") {
		name = strings.ToLower(name)
		def, ok := providerDefaults[Kind(name)]
		switch {
		case name == string(KindSimulator):
			// "simulator" alone is the same as empty; it may not be mixed.
			continue
		case !ok:
			env.Fail("LUDENG_IMAGE_PROVIDERS", "unknown provider %q (known: gemini, openrouter, openai, kie)", name)
			continue
		case seen[name]:
			env.Fail("LUDENG_IMAGE_PROVIDERS", "provider %q listed twice", name)
			continue
		}
		seen[name] = true
		cfg.Providers = append(cfg.Providers, providerFromEnv(env, name, def))
	}
	cfg.DeepSeek = deepSeekFromEnv(env)
	cfg.Retry.MaxAttempts = env.Int("LUDENG_PROVIDER_MAX_ATTEMPTS", 3, 1, 10)
	cfg.Breaker.Failures = env.Int("LUDENG_PROVIDER_BREAKER_FAILURES", 5, 1, 1000)
	cfg.Breaker.Cooldown = env.Duration("LUDENG_PROVIDER_BREAKER_COOLDOWN", 30*time.Second)
	cfg.QuotaCooldown = env.Duration("LUDENG_PROVIDER_QUOTA_COOLDOWN", time.Hour)
	cfg.AuthCooldown = env.Duration("LUDENG_PROVIDER_AUTH_COOLDOWN", 10*time.Minute)
	return cfg, joinedSince(env.Err(), before)
}

func providerFromEnv(env *config.Env, name string, def ProviderConfig) ProviderConfig {
	p := "LUDENG_" + strings.ToUpper(name) + "_"
	c := def
	c.Name = name
	c.APIKey = env.Secret(p + "API_KEY")
	if c.APIKey == "" && env.Getenv(p+"API_KEY_FILE") == "" {
		env.Fail(p+"API_KEY", "required because LUDENG_IMAGE_PROVIDERS lists %s (or set %sAPI_KEY_FILE)", name, p)
	}
	c.BaseURL = urlVar(env, p+"BASE_URL", def.BaseURL)
	c.Model = env.String(p+"MODEL", def.Model)
	c.PricePerImageMicros = priceVar(env, p+"PRICE_PER_IMAGE", def.PricePerImageMicros)
	c.PricePerImage1536Micros = priceVar(env, p+"PRICE_PER_IMAGE_1536", def.PricePerImage1536Micros)
	if _, set := env.Lookup(p + "PRICE_PER_IMAGE_1536"); !set {
		if _, set1024 := env.Lookup(p + "PRICE_PER_IMAGE"); set1024 {
			c.PricePerImage1536Micros = c.PricePerImageMicros
		}
	}
	c.Limits.RPM = env.Int(p+"RPM", def.Limits.RPM, 0, 1_000_000)
	c.Limits.RPH = env.Int(p+"RPH", def.Limits.RPH, 0, 1_000_000)
	c.Limits.IPM = env.Int(p+"IPM", def.Limits.IPM, 0, 1_000_000)
	c.Limits.IPH = env.Int(p+"IPH", def.Limits.IPH, 0, 1_000_000)
	c.Limits.Concurrency = env.Int(p+"CONCURRENCY", def.Limits.Concurrency, 0, 10_000)
	c.Timeout = env.Duration(p+"TIMEOUT", def.Timeout)
	c.ProbeTimeout = env.Duration(p+"PROBE_TIMEOUT", 10*time.Second)
	switch Kind(name) {
	case KindOpenAI:
		c.Quality = env.OneOf(p+"QUALITY", def.Quality, "low", "medium", "high", "auto")
		c.InputFidelity = env.OneOf(p+"INPUT_FIDELITY", def.InputFidelity, "low", "high")
	case KindKie:
		upload := defaultKieUploadURL
		if c.BaseURL != def.BaseURL {
			// A relay or the fakes serve the upload API beside the task API.
			upload = c.BaseURL
		}
		c.UploadURL = urlVar(env, p+"UPLOAD_URL", upload)
		c.CallbackURL = urlVar(env, p+"CALLBACK_URL", "")
		c.CallbackSecret = env.Secret(p + "CALLBACK_SECRET")
		if c.CallbackURL != "" && len(c.CallbackSecret) < 16 {
			env.Fail(p+"CALLBACK_SECRET", "required (at least 16 characters) when %sCALLBACK_URL is set", p)
		}
		c.PollInterval = env.Duration(p+"POLL_INTERVAL", def.PollInterval)
		c.PollMaxInterval = env.Duration(p+"POLL_MAX_INTERVAL", def.PollMaxInterval)
	}
	return c
}

func deepSeekFromEnv(env *config.Env) DeepSeekConfig {
	const p = "LUDENG_DEEPSEEK_"
	return DeepSeekConfig{
		APIKey:  env.Secret(p + "API_KEY"),
		BaseURL: urlVar(env, p+"BASE_URL", "https://api.deepseek.com"),
		Model:   env.String(p+"MODEL", "deepseek-flash"),
		Mode:    Mode(env.OneOf(p+"MODE", string(ModeBalanced), string(ModeCreative), string(ModeBalanced), string(ModePrecise))),
		// Peak-hour list prices (USD per 1M tokens): the conservative estimate.
		PriceInputHitMicros: priceVar(env, p+"PRICE_INPUT_CACHE_HIT", 6_000),
		PriceInputMicros:    priceVar(env, p+"PRICE_INPUT", 300_000),
		PriceOutputMicros:   priceVar(env, p+"PRICE_OUTPUT", 1_200_000),
		Timeout:             env.Duration(p+"TIMEOUT", 3*time.Minute),
		MaxAttempts:         env.Int(p+"MAX_ATTEMPTS", 3, 1, 10),
		CacheSize:           env.Int(p+"CACHE_SIZE", 4096, 0, 1_000_000),
	}
}

func urlVar(env *config.Env, name, def string) string {
	v := env.String(name, def)
	if v == "" {
		return ""
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		env.Fail(name, "not an http(s) URL: %q", v)
		return def
	}
	return strings.TrimRight(v, "/")
}

// priceVar reads a decimal price in currency units and returns micro-units.
func priceVar(env *config.Env, name string, defMicros int64) int64 {
	f := env.Float(name, float64(defMicros)/1e6)
	if f > 1e6 {
		env.Fail(name, "price %v is implausibly large", f)
		return defMicros
	}
	return int64(math.Round(f * 1e6))
}

func countErrs(err error) int {
	if err == nil {
		return 0
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return len(j.Unwrap())
	}
	return 1
}

func joinedSince(err error, before int) error {
	if err == nil {
		return nil
	}
	j, ok := err.(interface{ Unwrap() []error })
	if !ok {
		if before == 0 {
			return err
		}
		return nil
	}
	all := j.Unwrap()
	if before >= len(all) {
		return nil
	}
	return errors.Join(all[before:]...)
}

// validate checks what New needs beyond what the env reader checked (for
// configs built in code).
func (c Config) validate() error {
	var errs []error
	seen := map[string]bool{}
	for i, p := range c.Providers {
		if _, ok := providerDefaults[Kind(p.Name)]; !ok {
			errs = append(errs, fmt.Errorf("Providers[%d].Name: unknown provider %q", i, p.Name))
		}
		if seen[p.Name] {
			errs = append(errs, fmt.Errorf("Providers[%d].Name: %q listed twice", i, p.Name))
		}
		seen[p.Name] = true
		if p.APIKey == "" {
			errs = append(errs, fmt.Errorf("Providers[%d].APIKey: required for %s", i, p.Name))
		}
		if p.BaseURL == "" {
			errs = append(errs, fmt.Errorf("Providers[%d].BaseURL: required for %s", i, p.Name))
		}
		if p.Model == "" {
			errs = append(errs, fmt.Errorf("Providers[%d].Model: required for %s", i, p.Name))
		}
	}
	return errors.Join(errs...)
}

// withDefaults fills zero fields of a code-built ProviderConfig from the
// kind's defaults (keys excepted).
func (p ProviderConfig) withDefaults() ProviderConfig {
	def := providerDefaults[Kind(p.Name)]
	if p.BaseURL == "" {
		p.BaseURL = def.BaseURL
	}
	p.BaseURL = strings.TrimRight(p.BaseURL, "/")
	if p.Model == "" {
		p.Model = def.Model
	}
	if p.PricePerImage1536Micros == 0 {
		p.PricePerImage1536Micros = p.PricePerImageMicros
	}
	if p.Timeout <= 0 {
		p.Timeout = def.Timeout
	}
	if p.ProbeTimeout <= 0 {
		p.ProbeTimeout = 10 * time.Second
	}
	if p.Quality == "" {
		p.Quality = def.Quality
	}
	if p.InputFidelity == "" {
		p.InputFidelity = def.InputFidelity
	}
	if p.UploadURL == "" && Kind(p.Name) == KindKie {
		p.UploadURL = p.BaseURL
		if p.BaseURL == def.BaseURL {
			p.UploadURL = defaultKieUploadURL
		}
	}
	p.UploadURL = strings.TrimRight(p.UploadURL, "/")
	if p.PollInterval <= 0 {
		p.PollInterval = 2 * time.Second
	}
	if p.PollMaxInterval <= 0 {
		p.PollMaxInterval = 15 * time.Second
	}
	return p
}
