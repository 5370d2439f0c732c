package pipeline

import (
	"context"
	"strings"

	"github.com/ludeng/ludeng/internal/plan"
	"github.com/ludeng/ludeng/internal/provider"
	"github.com/ludeng/ludeng/internal/store"
)

// postKitWriter is the part of the enhancer that writes notes
// (provider.PromptEnhancer); without it notes come from the template.
type postKitWriter interface {
	PostKit(ctx context.Context, req provider.PostKitRequest) (provider.PostKit, error)
}

// VariantLabelZH is an image's short Chinese label for file names and
// notes: time of day then weather, "清晨晴", "夜晚小雨".
func VariantLabelZH(v store.Variant) string {
	_, t := plan.TimeLabel(v.Time)
	_, w := plan.WeatherLabel(v.Weather)
	w = strings.TrimSuffix(w, "天")
	if t+w == "" {
		return v.ID
	}
	return t + w
}

// GroupFacts are the facts a note about group g may state.
func GroupFacts(g *store.Group, imgs []*store.Image) provider.PostFacts {
	sc, cmb := g.Scene, g.Combination
	f := provider.PostFacts{Province: sc.Province, Prefecture: sc.Prefecture, County: sc.County, Month: cmb.Month,
		Season: sc.Season, Road: sc.Road.ZH}
	for _, e := range sc.Elements {
		f.Elements = append(f.Elements, e.ZH)
	}
	for _, im := range imgs {
		if im.GroupID == g.ID && im.Status == store.ImageSucceeded {
			f.Variants = append(f.Variants, VariantLabelZH(im.Variant))
		}
	}
	return f
}

// WritePostKit drafts group g's note in the tone asked for (DeepSeek, or the
// template when it is not configured or fails), stores it with the group
// and returns it with the reason a fallback was used ("" otherwise).
func (p *Pipeline) WritePostKit(ctx context.Context, b *store.Batch, g *store.Group, tone string) (*store.GroupNote, string, error) {
	imgs, err := p.db.ImagesOf(ctx, b.ID)
	if err != nil {
		return nil, "", err
	}
	req := provider.PostKitRequest{Facts: GroupFacts(g, imgs), Tone: tone,
		Ref: provider.Ref{UserID: b.UserID, BatchID: b.ID, GroupID: g.ID}}
	var kit provider.PostKit
	if w, ok := p.d.Enhancer.(postKitWriter); ok {
		kit, err = w.PostKit(ctx, req)
	} else {
		kit = provider.TemplatePostKit(req.Facts, tone)
	}
	if err != nil {
		return nil, "", err
	}
	n := &store.GroupNote{GroupID: g.ID, BatchID: b.ID, Tone: tone, Title: kit.Title, Body: kit.Body,
		Hashtags: kit.Hashtags, Source: kit.Source}
	if err := p.db.InTx(ctx, func(tx *store.Tx) error { return p.db.PutNote(ctx, tx, n) }); err != nil {
		return nil, "", err
	}
	return n, kit.Reason, nil
}

// EditPostKit stores the operator's edit of a note (Source "edited").
func (p *Pipeline) EditPostKit(ctx context.Context, n *store.GroupNote) error {
	n.Source = "edited"
	return p.db.InTx(ctx, func(tx *store.Tx) error { return p.db.PutNote(ctx, tx, n) })
}
