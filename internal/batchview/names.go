package batchview

import (
	"strconv"
	"strings"

	"github.com/ludeng/ludeng/internal/pipeline"
	"github.com/ludeng/ludeng/internal/plan"
	"github.com/ludeng/ludeng/internal/store"
	"github.com/ludeng/ludeng/internal/zipstream"
)

// The names a batch's files carry, the same in the zip and in the views
// (an image's file_name is its name in the zip).

// groupFacts are what names and notes say about a group.
type groupFacts struct {
	scene plan.Scene
	cmb   plan.Combination
}

func factsOf(g *store.Group) groupFacts {
	return groupFacts{scene: g.Scene, cmb: g.Combination}
}

func month(f groupFacts) string { return strconv.Itoa(f.cmb.Month) + "月" }

// FileName is an image's readable name, "01_延庆区_8月_清晨晴.jpg": group
// number, county, month, time and weather.
func FileName(g *store.Group, im *store.Image) string {
	f := factsOf(g)
	ext := ".jpg"
	if im.MIME == "image/png" {
		ext = ".png"
	}
	return zipstream.FolderName(g.Index+1, f.scene.County, month(f), pipeline.VariantLabelZH(im.Variant)) + ext
}

// FolderName is a group's folder in the batch zip, "01_北京市延庆区_8月_柏油路":
// group number, place, month and road.
func FolderName(g *store.Group) string {
	f := factsOf(g)
	return zipstream.FolderName(g.Index+1, f.scene.Province+f.scene.County, month(f), f.scene.Road.ZH)
}

// DefaultName names a batch after its first two groups' counties and
// months ("延庆区8月、信都区7月 等4组"), the default the SPA shows.
func DefaultName(groups []*store.Group) string {
	var parts []string
	for _, g := range groups {
		if len(parts) == 2 {
			break
		}
		f := factsOf(g)
		if f.scene.County != "" {
			parts = append(parts, f.scene.County+month(f))
		}
	}
	name := strings.Join(parts, "、")
	if len(groups) > len(parts) && name != "" {
		name += " 等" + strconv.Itoa(len(groups)) + "组"
	}
	return name
}

// ArchiveName is a zip's file name: the batch name (or its first groups'
// places), then the group, then what was selected.
func ArchiveName(label string, groups []*store.Group, b *store.Batch, g *store.Group, suffix string) string {
	name := label
	if name == "" {
		name = DefaultName(groups)
	}
	if name == "" {
		name = "ludeng_" + b.ID
	}
	name = zipstream.SafeName(name)
	if g != nil {
		name += "_" + zipstream.FolderName(g.Index+1, factsOf(g).scene.County)
	}
	if suffix != "" {
		name += "_" + suffix
	}
	return name + ".zip"
}

// NoteText is a post kit as the operator pastes it: title, body, hashtags.
func NoteText(n *store.GroupNote) string {
	tags := make([]string, len(n.Hashtags))
	for i, t := range n.Hashtags {
		tags[i] = "#" + t
	}
	return n.Title + "\n\n" + n.Body + "\n\n" + strings.Join(tags, " ") + "\n"
}
