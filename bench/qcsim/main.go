// Command qcsim measures the visual QC on simulated batches (issue #12): it
// plans N smart batches of 12 groups from the shipped pool (seeds 1..N),
// renders every variant with the simulator at the default output size
// (3:4, 1024), and runs the pipeline's QC rule on them in group order —
// each image against every image of the batch accepted before it, a
// rejected image retried with plan.Nudge up to 3 times as the pipeline does.
// It prints the first-try rejection rate and the images that fail after all
// retries.
//
//	go run ./bench/qcsim -batches 50
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"os"
	"strconv"
	"strings"

	pooldata "github.com/ludeng/ludeng/data/pool"
	"github.com/ludeng/ludeng/internal/imaging"
	"github.com/ludeng/ludeng/internal/plan"
	"github.com/ludeng/ludeng/internal/pool"
	"github.com/ludeng/ludeng/internal/provider"
	"github.com/ludeng/ludeng/internal/provider/sim"
	"github.com/ludeng/ludeng/internal/similarity"
)

const maxRetries = 3 // pipeline default LUDENG_PIPELINE_QC_RETRIES

func main() {
	batches := flag.Int("batches", 50, "number of 12-group batches (seeds 1..N)")
	flag.Parse()
	if err := run(*batches); err != nil {
		fmt.Fprintln(os.Stderr, "qcsim:", err)
		os.Exit(1)
	}
}

// productPhoto is the stand-in product shot the simulator cuts out.
func productPhoto() []byte {
	img := image.NewRGBA(image.Rect(0, 0, 600, 900))
	for i := range img.Pix {
		img.Pix[i] = 255
	}
	fill := func(x0, y0, x1, y1 int, c color.RGBA) {
		for y := y0; y < y1; y++ {
			for x := x0; x < x1; x++ {
				img.SetRGBA(x, y, c)
			}
		}
	}
	fill(285, 150, 315, 880, color.RGBA{120, 125, 130, 255})
	fill(150, 60, 450, 150, color.RGBA{25, 45, 110, 255})
	fill(300, 200, 470, 235, color.RGBA{60, 60, 65, 255})
	fill(380, 235, 470, 250, color.RGBA{250, 250, 220, 255})
	fill(240, 860, 360, 900, color.RGBA{90, 90, 95, 255})
	var buf bytes.Buffer
	_ = jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90})
	return buf.Bytes()
}

// scene is what the pipeline hands the simulator for one variant.
func scene(g plan.Group, v plan.VariantSpec) *provider.Scene {
	weather := map[string]string{plan.WeatherLightRain: "rain", plan.WeatherLightSnow: "snow"}[v.Weather]
	if weather == "" {
		weather = v.Weather
	}
	s := &provider.Scene{TimeOfDay: v.Time, Weather: weather, Season: g.Scene.Season, Month: g.Combination.Month,
		Road: g.Combination.Road, Key: g.Key,
		Caption: strings.TrimSpace(g.Scene.CountyPinyin + " " + strconv.Itoa(g.Combination.Month) + " " + g.Combination.Road + " " + v.ID)}
	for _, e := range g.Scene.Elements {
		s.Elements = append(s.Elements, e.ID)
	}
	return s
}

func run(batches int) error {
	p, err := pool.Load(pooldata.FS())
	if err != nil {
		return err
	}
	snap, err := pool.NewSnapshot(p)
	if err != nil {
		return err
	}
	planner, err := plan.New(plan.Config{}, nil)
	if err != nil {
		return err
	}
	gen := sim.New(sim.Options{})
	photo := productPhoto()
	w, h, _ := provider.OutputSize(provider.DefaultAspect, provider.Resolution1024)
	images, firstTry, rejects, failed := 0, 0, 0, 0
	byTime := map[string]int{}
	for seed := int64(1); seed <= int64(batches); seed++ {
		pl, err := planner.Smart(context.Background(), snap, plan.SmartRequest{Groups: 12, Seed: seed})
		if err != nil {
			return fmt.Errorf("seed %d: %w", seed, err)
		}
		var accepted []*similarity.Signature
		for _, g := range pl.Groups {
			for _, v := range g.Variants {
				images++
				spec := v.Spec()
				prompt := v.PromptEN
				ok := false
				for try := 0; try <= maxRetries; try++ {
					res, err := gen.Generate(context.Background(), provider.Request{Prompt: prompt, Photo: photo,
						Aspect: provider.DefaultAspect, Resolution: provider.Resolution1024, Scene: scene(g, spec)})
					if err != nil {
						return err
					}
					img, _, err := imaging.DecodeAny(bytes.NewReader(res.Image), 64<<20)
					if err != nil {
						return err
					}
					if b := img.Bounds(); b.Dx() != w || b.Dy() != h {
						return fmt.Errorf("wrong size %v", b)
					}
					sig := similarity.NewSignature(img)
					similar := false
					if blank, _ := sig.Blank(); blank {
						similar = true
					}
					for _, o := range accepted {
						if !similar && sig.Compare(o, similarity.Thresholds{}).Similar {
							similar = true
						}
					}
					if !similar {
						accepted = append(accepted, sig)
						ok = true
						break
					}
					rejects++
					if try == 0 {
						firstTry++
						byTime[spec.Time+"/"+spec.Weather]++
					}
					spec = plan.Nudge(spec, try+1, g.Scene.SnowCover)
					if en, _, err := planner.Prompts(snap, g.Combination, spec); err == nil {
						prompt = en
					}
				}
				if !ok {
					failed++
					fmt.Printf("failed: seed %d group %d %s %s\n", seed, g.Index, g.Combination.KeyString(), v.ID)
				}
			}
		}
	}
	fmt.Printf("batches %d, images %d\n", batches, images)
	fmt.Printf("first-try QC rejections %d (%.2f%%), all rejections incl. retries %d, failed after %d retries %d\n",
		firstTry, 100*float64(firstTry)/float64(images), rejects, maxRetries, failed)
	fmt.Printf("first-try rejections by time/weather: %v\n", byTime)
	return nil
}
