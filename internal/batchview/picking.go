package batchview

import (
	"context"
	"time"

	"github.com/ludeng/ludeng/internal/pipeline"
	"github.com/ludeng/ludeng/internal/store"
)

// ImageVersionItem is one result an image has had.
type ImageVersionItem struct {
	ID          string    `json:"id"`
	Current     bool      `json:"current"`
	Instruction string    `json:"instruction"`
	Provider    string    `json:"provider"`
	Width       int       `json:"width"`
	Height      int       `json:"height"`
	CreatedAt   time.Time `json:"created_at"`
	URLs        ImageURLs `json:"urls"`
}

// Versions merges an image's kept versions with its current result (which
// is kept only once another one replaces it), oldest first.
func Versions(im *store.Image, kept []*store.ImageVersion) []ImageVersionItem {
	out := []ImageVersionItem{}
	seenCurrent := false
	for _, v := range kept {
		cur := v.ResultKey == im.ResultKey
		seenCurrent = seenCurrent || cur
		base := "/api/v1/images/" + im.ID + "/versions/" + v.ID + "/content?size="
		urls := ImageURLs{Card: base + "card", Preview: base + "preview", Full: base + "full"}
		if cur {
			urls = ResultURLs(im)
		}
		out = append(out, ImageVersionItem{ID: v.ID, Current: cur, Instruction: v.Instruction, Provider: v.Provider,
			Width: v.Width, Height: v.Height, CreatedAt: v.CreatedAt, URLs: urls})
	}
	if !seenCurrent && im.ResultKey != "" && im.Status == store.ImageSucceeded {
		out = append(out, ImageVersionItem{ID: "current", Current: true, Instruction: pipeline.Instruction(im.Prompt),
			Provider: im.Provider, Width: im.Width, Height: im.Height, CreatedAt: im.UpdatedAt, URLs: ResultURLs(im)})
	}
	return out
}

// Note is a group's post kit as the API shows it; reason says why a
// template stands in for the enhancer's draft ("" when it does not).
func Note(n *store.GroupNote, reason string) GroupNote {
	tags := n.Hashtags
	if tags == nil {
		tags = []string{}
	}
	return GroupNote{GroupID: n.GroupID, Tone: n.Tone, Title: n.Title, Body: n.Body, Hashtags: tags, Source: n.Source,
		FallbackReason: reason, UpdatedAt: n.UpdatedAt, Text: NoteText(n)}
}

// Decorate adds the picking fields to a batch view: the batch name (and
// its default), per group its note and progress, per image whether it is
// starred, its file name (as in the zip), how many versions it has, and
// content links that change with the result. Stars, notes, versions and
// names change without batch events, so they are read on every view;
// groups and images come from the view's rows.
func (r *Reader) Decorate(ctx context.Context, b *store.Batch, v *Batch, rows Rows) error {
	starred, err := r.db.StarredOf(ctx, b.ID)
	if err != nil {
		return err
	}
	notes, err := r.db.NotesOf(ctx, b.ID)
	if err != nil {
		return err
	}
	kept, err := r.db.VersionsOfBatch(ctx, b.ID)
	if err != nil {
		return err
	}
	labels, err := r.db.BatchLabels(ctx, []string{b.ID})
	if err != nil {
		return err
	}
	decorate(v, rows, starred, notes, kept, labels[b.ID])
	return nil
}

func decorate(v *Batch, rows Rows, starred map[string]bool, notes map[string]*store.GroupNote, kept []*store.ImageVersion,
	label store.BatchLabel) {
	versions := map[string][]*store.ImageVersion{}
	for _, k := range kept {
		versions[k.ImageID] = append(versions[k.ImageID], k)
	}
	byImage := map[string]*store.Image{}
	for _, im := range rows.Images {
		byImage[im.ID] = im
	}
	byGroup := map[string]*store.Group{}
	for _, g := range rows.Groups {
		byGroup[g.ID] = g
	}
	v.Name = label.Name
	v.DefaultName = DefaultName(rows.Groups)
	v.Archived = label.ArchivedAt != nil
	v.StarredDownload = "/api/v1/batches/" + v.ID + "/download?starred=true"
	for gi := range v.Groups {
		gm := &v.Groups[gi]
		if n := notes[gm.ID]; n != nil {
			nr := Note(n, "")
			gm.Note = &nr
		}
		done := 0
		for ii := range gm.Images {
			imm := &gm.Images[ii]
			im := byImage[imm.ID]
			if im == nil {
				continue
			}
			if im.Status == store.ImageSucceeded {
				done++
			}
			imm.Starred = starred[im.ID]
			imm.URLs = ResultURLs(im)
			imm.Versions = len(Versions(im, versions[im.ID]))
			imm.Instruction = pipeline.Instruction(im.Prompt)
			imm.Prompt = im.Prompt
			if g := byGroup[im.GroupID]; g != nil {
				imm.FileName = FileName(g, im)
				imm.LabelZH = pipeline.VariantLabelZH(im.Variant)
			}
		}
		gm.Progress = GroupProgress{Succeeded: done, Total: len(gm.Images)}
	}
}

// Label adds the name and archive state to batch list items.
func (r *Reader) Label(ctx context.Context, items []Summary) error {
	ids := make([]string, 0, len(items))
	for _, it := range items {
		ids = append(ids, it.ID)
	}
	labels, err := r.db.BatchLabels(ctx, ids)
	if err != nil {
		return err
	}
	for i := range items {
		l := labels[items[i].ID]
		items[i].Name = l.Name
		items[i].Archived = l.ArchivedAt != nil
	}
	return nil
}
