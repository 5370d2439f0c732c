package plan

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"github.com/ludeng/ludeng/internal/config"
)

// Defaults. docs/planner.md explains each choice in more detail.
const (
	// DefaultWeightRegion: the county sets everything behind the product:
	// landforms, crops, trees, architecture, water. It is the largest visual
	// change a group can make.
	DefaultWeightRegion = 0.35
	// DefaultWeightMonth: the month (through the season table) turns the same
	// fields green, golden, bare or white; second only to the place.
	DefaultWeightMonth = 0.30
	// DefaultWeightElements: people, vehicles, animals… are the foreground
	// story of the picture but occupy a small part of it.
	DefaultWeightElements = 0.20
	// DefaultWeightRoad: a strip of ground at the foot of the lamp, and only
	// four values; the weakest visual signal.
	DefaultWeightRoad = 0.15
	// DefaultThreshold is the smallest weighted distance between two groups of
	// a batch. 0.40 accepts "another province + another road" (0.50) and
	// "another province + a month two or more away" (≥ 0.40), and rejects
	// pairs whose only differences are weak, such as "another province + the
	// next month of the same season, same road and elements" (0.375) or
	// "same province + another season" (0.385) — those look alike.
	DefaultThreshold = 0.40
	// DefaultSameProvince is the region distance between two counties of one
	// province: their landscape usually shares a climate zone and building
	// style, so they are clearly closer than two provinces (1).
	DefaultSameProvince = 0.6
	// DefaultElementsPerGroup scene elements per smart group: two from
	// different categories (e.g. a vehicle and an animal) make a richer scene
	// and many more distinct combinations than one, without crowding the
	// product.
	DefaultElementsPerGroup = 2
	// DefaultSample is how many candidate combinations a smart plan draws per
	// round (each checked against history in a few batched, indexed queries).
	DefaultSample = 384
	// DefaultRestarts is how many greedy runs from different first groups a
	// smart plan compares.
	DefaultRestarts = 6
	// DefaultMaxElements bounds the scene elements of a manual group.
	DefaultMaxElements = 4
	// MaxGroups is the largest number of groups of one batch (DESIGN.md §1).
	MaxGroups = 12
	// MaxSeed is the exclusive upper bound of seeds (JSON-safe integers).
	MaxSeed = 1 << 53
)

// Weights weigh the per-dimension distances. They are normalised by their
// sum, so the total distance is always in [0, 1].
type Weights struct {
	Region   float64 `json:"region"`
	Month    float64 `json:"month"`
	Road     float64 `json:"road"`
	Elements float64 `json:"elements"`
}

// DefaultWeights are the weights used when none are configured.
var DefaultWeights = Weights{Region: DefaultWeightRegion, Month: DefaultWeightMonth, Road: DefaultWeightRoad, Elements: DefaultWeightElements}

func (w Weights) sum() float64 { return w.Region + w.Month + w.Road + w.Elements }

// Config configures the planner. Zero fields take the defaults above; Weights
// all zero take DefaultWeights (set any weight to use the four as given, zeros
// included).
type Config struct {
	// Weights of the four dimensions. Env LUDENG_PLAN_WEIGHTS as
	// "region,month,road,elements", e.g. "0.35,0.30,0.15,0.20".
	Weights Weights `json:"weights"`
	// Threshold is the smallest weighted distance between two groups of a
	// batch, in (0, 1]. Env LUDENG_PLAN_THRESHOLD.
	Threshold float64 `json:"threshold"`
	// SameProvince is the region distance of two counties of one province,
	// in (0, 1), used only when a request allows the same province.
	// Env LUDENG_PLAN_SAME_PROVINCE_DISTANCE.
	SameProvince float64 `json:"same_province"`
	// ElementsPerGroup is how many scene elements a smart group gets (1–3).
	// Env LUDENG_PLAN_ELEMENTS_PER_GROUP.
	ElementsPerGroup int `json:"elements_per_group"`
	// Sample is how many candidates a smart plan draws per round (≥ 50).
	// Env LUDENG_PLAN_SAMPLE.
	Sample int `json:"sample"`
	// Restarts is how many greedy runs a smart plan compares (1–64).
	// Env LUDENG_PLAN_RESTARTS.
	Restarts int `json:"restarts"`
	// MaxElements bounds the elements of a manual group (1–8).
	// Env LUDENG_PLAN_MAX_ELEMENTS.
	MaxElements int `json:"max_elements"`
}

// ConfigFromEnv reads the LUDENG_PLAN_* variables.
func ConfigFromEnv(env *config.Env) Config {
	c := Config{
		Threshold:        env.Float("LUDENG_PLAN_THRESHOLD", DefaultThreshold),
		SameProvince:     env.Float("LUDENG_PLAN_SAME_PROVINCE_DISTANCE", DefaultSameProvince),
		ElementsPerGroup: env.Int("LUDENG_PLAN_ELEMENTS_PER_GROUP", DefaultElementsPerGroup, 1, 3),
		Sample:           env.Int("LUDENG_PLAN_SAMPLE", DefaultSample, 50, 100_000),
		Restarts:         env.Int("LUDENG_PLAN_RESTARTS", DefaultRestarts, 1, 64),
		MaxElements:      env.Int("LUDENG_PLAN_MAX_ELEMENTS", DefaultMaxElements, 1, 8),
	}
	if v, ok := env.Lookup("LUDENG_PLAN_WEIGHTS"); ok {
		var w [4]float64
		if _, err := fmt.Sscanf(v, "%g,%g,%g,%g", &w[0], &w[1], &w[2], &w[3]); err != nil {
			env.Fail("LUDENG_PLAN_WEIGHTS", "must be four numbers region,month,road,elements, got %q", v)
		} else {
			c.Weights = Weights{Region: w[0], Month: w[1], Road: w[2], Elements: w[3]}
		}
	}
	if err := c.validate(); err != nil {
		env.Fail("LUDENG_PLAN_*", "%v", err)
	}
	return c
}

// WithDefaults fills zero fields with the defaults.
func (c Config) WithDefaults() Config {
	if c.Weights == (Weights{}) {
		c.Weights = DefaultWeights
	}
	if c.Threshold == 0 {
		c.Threshold = DefaultThreshold
	}
	if c.SameProvince == 0 {
		c.SameProvince = DefaultSameProvince
	}
	if c.ElementsPerGroup == 0 {
		c.ElementsPerGroup = DefaultElementsPerGroup
	}
	if c.Sample == 0 {
		c.Sample = DefaultSample
	}
	if c.Restarts == 0 {
		c.Restarts = DefaultRestarts
	}
	if c.MaxElements == 0 {
		c.MaxElements = DefaultMaxElements
	}
	return c
}

func (c Config) validate() error {
	c = c.WithDefaults()
	var errs []error
	w := c.Weights
	for _, v := range []float64{w.Region, w.Month, w.Road, w.Elements} {
		if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			errs = append(errs, errors.New("weights must be finite and ≥ 0"))
			break
		}
	}
	if w.sum() <= 0 {
		errs = append(errs, errors.New("at least one weight must be > 0"))
	}
	if c.Threshold <= 0 || c.Threshold > 1 {
		errs = append(errs, fmt.Errorf("threshold %g must be in (0, 1]", c.Threshold))
	}
	if c.SameProvince <= 0 || c.SameProvince >= 1 {
		errs = append(errs, fmt.Errorf("same-province distance %g must be in (0, 1)", c.SameProvince))
	}
	if c.ElementsPerGroup < 1 || c.ElementsPerGroup > 3 {
		errs = append(errs, fmt.Errorf("elements per group %d must be 1..3", c.ElementsPerGroup))
	}
	if c.Sample < 50 {
		errs = append(errs, fmt.Errorf("sample %d must be ≥ 50", c.Sample))
	}
	if c.Restarts < 1 || c.Restarts > 64 {
		errs = append(errs, fmt.Errorf("restarts %d must be 1..64", c.Restarts))
	}
	if c.MaxElements < 1 || c.MaxElements > 8 {
		errs = append(errs, fmt.Errorf("max elements %d must be 1..8", c.MaxElements))
	}
	return errors.Join(errs...)
}

// Hash is the hex SHA-256 of the effective configuration's JSON. A plan
// records it: the same seed, history, pool version and config hash give the
// same plan.
func (c Config) Hash() string {
	b, err := json.Marshal(c.WithDefaults())
	if err != nil {
		// Config holds only numbers.
		panic(fmt.Sprintf("plan: marshal config: %v", err))
	}
	return hashHex("plan-config-v1 " + string(b))
}
