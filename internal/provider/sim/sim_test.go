package sim

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/ludeng/ludeng/internal/provider"
	"github.com/ludeng/ludeng/internal/similarity"
	"github.com/stretchr/testify/require"
)

// productPhoto is a stand-in product shot: a solar street light on white.
func productPhoto(t testing.TB) []byte {
	t.Helper()
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
	fill(285, 150, 315, 880, color.RGBA{120, 125, 130, 255}) // pole
	fill(150, 60, 450, 150, color.RGBA{25, 45, 110, 255})    // solar panel
	fill(300, 200, 470, 235, color.RGBA{60, 60, 65, 255})    // arm + lamp head
	fill(380, 235, 470, 250, color.RGBA{250, 250, 220, 255}) // LED
	fill(240, 860, 360, 900, color.RGBA{90, 90, 95, 255})    // base
	var buf bytes.Buffer
	require.NoError(t, jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}))
	return buf.Bytes()
}

// variants are the four pictures of a group (DESIGN.md §2); cold winters
// swap rain for snow.
func variants(cold bool) []provider.Scene {
	last := provider.Scene{TimeOfDay: night, Weather: rain}
	if cold {
		last.Weather = snow
	}
	return []provider.Scene{
		{TimeOfDay: morning, Weather: sunny},
		{TimeOfDay: evening, Weather: sunny},
		{TimeOfDay: noon, Weather: overcast},
		last,
	}
}

var (
	regions   = []string{"Hebei Xingtai", "Sichuan Meishan", "Yunnan Dali", "Heilongjiang Hulan", "Guangdong Qingyuan", "Gansu Dunhuang", "Zhejiang Anji", "Xizang Nyingchi", "Shandong Shouguang", "Hainan Wenchang", "Jiangxi Wuyuan", "Inner Mongolia Xilinhot"}
	roads     = []string{"dirt", "cement", "asphalt", "flagstone"}
	terrains  = []string{"plain", "mountain", "hills", "town", "water", "forest"}
	elemPool  = []string{"people", "vehicles", "tricycle", "animals", "farm_work"}
	seasonsOf = map[int]string{1: "winter", 2: "winter", 3: "spring", 4: "spring", 5: "spring", 6: "summer", 7: "summer", 8: "summer", 9: "autumn", 10: "autumn", 11: "autumn", 12: "winter"}
)

// plan8 picks 8 groups that differ in region and in at least one more
// dimension, as the planner would.
func plan8(rng *rand.Rand) []provider.Scene {
	var out []provider.Scene
	perm := rng.Perm(len(regions))
	for i := range 8 {
		month := 1 + rng.IntN(12)
		var els []string
		for _, j := range rng.Perm(len(elemPool))[:1+rng.IntN(2)] {
			els = append(els, elemPool[j])
		}
		s := provider.Scene{
			Month: month, Season: seasonsOf[month], Road: roads[(i+rng.IntN(2))%4],
			Terrain: terrains[rng.IntN(len(terrains))], Elements: els, Caption: regions[perm[i]],
		}
		s.Key = fmt.Sprintf("%s|%d|%s|%v", s.Caption, s.Month, s.Road, s.Elements)
		out = append(out, s)
	}
	return out
}

func renderGroup(t testing.TB, g *Generator, photo []byte, s provider.Scene, res int) []image.Image {
	t.Helper()
	cold := s.Season == "winter"
	var imgs []image.Image
	for _, v := range variants(cold) {
		sc := s
		sc.TimeOfDay, sc.Weather = v.TimeOfDay, v.Weather
		w, h, err := provider.OutputSize(provider.Aspect3x4, res)
		require.NoError(t, err)
		imgs = append(imgs, g.Render(provider.Request{Photo: photo, PhotoMIME: "image/jpeg", Prompt: "p", Scene: &sc}, w, h))
	}
	return imgs
}

// TestQCDistinct checks the QC defaults pairwise over all 32 images of an
// 8-group plan (which includes the 4 variants of each group), for 20 plans.
func TestQCDistinct(t *testing.T) {
	t.Parallel()
	photo := productPhoto(t)
	plans := 20
	if raceEnabled {
		plans = 1
	}
	for combo := range plans {
		t.Run(fmt.Sprintf("plan%02d", combo), func(t *testing.T) {
			t.Parallel()
			g := New(Options{})
			rng := rand.New(rand.NewPCG(uint64(combo), 99))
			var sigs []*similarity.Signature
			var names []string
			for gi, s := range plan8(rng) {
				for vi, img := range renderGroup(t, g, photo, s, provider.Resolution1024) {
					sigs = append(sigs, similarity.NewSignature(img))
					names = append(names, fmt.Sprintf("g%d/v%d(%s %s %s)", gi, vi, s.Road, s.Terrain, s.Season))
				}
			}
			minH, maxS := 64, -1.0
			defer func() { t.Logf("closest pair: phash %d, highest ssim %.3f", minH, maxS) }()
			for i := range sigs {
				if blank, why := sigs[i].Blank(); blank {
					t.Errorf("%s is blank: %s", names[i], why)
				}
				for j := i + 1; j < len(sigs); j++ {
					r := sigs[i].Compare(sigs[j], similarity.Thresholds{})
					minH, maxS = min(minH, r.Hamming), max(maxS, r.SSIM)
					require.Falsef(t, r.Similar, "%s vs %s: phash %d ssim %.3f (%s)", names[i], names[j], r.Hamming, r.SSIM, r.Reason)
				}
			}
		})
	}
}

func TestGenerateExactSizeAndDeterministic(t *testing.T) {
	t.Parallel()
	photo := productPhoto(t)
	tests := []struct {
		aspect provider.Aspect
		res    int
		png    bool
	}{
		{provider.Aspect3x4, 1024, false},
		{provider.Aspect9x16, 1536, false},
		{provider.Aspect1x1, 1024, true},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s@%d", tc.aspect, tc.res), func(t *testing.T) {
			t.Parallel()
			g := New(Options{PNG: tc.png})
			req := provider.Request{Photo: photo, PhotoMIME: "image/jpeg", Prompt: "河北 邢台县 七月 土路 三轮车 傍晚 晴",
				Aspect: tc.aspect, Resolution: tc.res}
			a, err := g.Generate(context.Background(), req)
			require.NoError(t, err)
			b, err := g.Generate(context.Background(), req)
			require.NoError(t, err)
			require.Equal(t, a.Image, b.Image, "same request, same picture")
			img, format, err := image.Decode(bytes.NewReader(a.Image))
			require.NoError(t, err)
			w, h, _ := provider.OutputSize(tc.aspect, tc.res)
			require.Equal(t, image.Pt(w, h), img.Bounds().Size())
			require.Equal(t, map[bool]string{true: "png", false: "jpeg"}[tc.png], format)
			require.Equal(t, "image/"+format, a.MIME)
		})
	}
}

func TestSceneFromPrompt(t *testing.T) {
	t.Parallel()
	tests := []struct {
		prompt string
		want   provider.Scene
	}{
		{"河北 邢台县，7月，土路，三轮车，傍晚，晴", provider.Scene{TimeOfDay: evening, Weather: sunny, Month: 7, Road: "dirt",
			Elements: []string{"tricycle", "vehicles"}}},
		{"A snowy night on an asphalt road by a lake in winter, people walking", provider.Scene{TimeOfDay: night,
			Weather: snow, Season: "winter", Road: "asphalt", Terrain: "water", Elements: []string{"people"}}},
		{"overcast noon, cement road, July, cows. Scene: Yunnan Dali", provider.Scene{TimeOfDay: noon, Weather: overcast,
			Month: 7, Road: "cement", Elements: []string{"animals"}, Caption: "Yunnan Dali"}},
	}
	for _, tc := range tests {
		t.Run(tc.prompt, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, SceneFromPrompt(tc.prompt))
		})
	}
}

// TestContactSheet renders one 8-group plan into per-image JPEGs and a
// contact sheet that must decode at its full size. Set LUDENG_SIM_DUMP=dir to
// keep the pictures for a person to look at.
func TestContactSheet(t *testing.T) {
	t.Parallel()
	dir := os.Getenv("LUDENG_SIM_DUMP")
	if dir == "" {
		dir = t.TempDir()
	}
	photo := productPhoto(t)
	g := New(Options{})
	groups := 8
	if raceEnabled {
		groups = 2 // a sheet for eyes; TestQCDistinct still renders all 32 under -race
	}
	sheet := image.NewRGBA(image.Rect(0, 0, 4*192, groups*256))
	for gi, s := range plan8(rand.New(rand.NewPCG(1, 99)))[:groups] {
		for vi, img := range renderGroup(t, g, photo, s, provider.Resolution1024) {
			small := provider.Fit(img, 192, 256)
			draw.Draw(sheet, image.Rect(vi*192, gi*256, vi*192+192, gi*256+256), small, small.Bounds().Min, draw.Src)
			var buf bytes.Buffer
			require.NoError(t, jpeg.Encode(&buf, img, &jpeg.Options{Quality: 85}))
			require.NoError(t, os.WriteFile(filepath.Join(dir, fmt.Sprintf("g%d_v%d.jpg", gi, vi)), buf.Bytes(), 0o644))
		}
	}
	var buf bytes.Buffer
	require.NoError(t, png.Encode(&buf, sheet))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "sheet.png"), buf.Bytes(), 0o644))
	f, err := os.Open(filepath.Join(dir, "sheet.png"))
	require.NoError(t, err)
	defer f.Close()
	cfg, err := png.DecodeConfig(f)
	require.NoError(t, err)
	require.Equal(t, 4*192, cfg.Width)
	require.Equal(t, groups*256, cfg.Height)
	files, err := filepath.Glob(filepath.Join(dir, "g*_v*.jpg"))
	require.NoError(t, err)
	require.Len(t, files, groups*4)
}
