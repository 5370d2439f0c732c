package httpapi

import (
	_ "embed"
	"encoding/json"
	"sync"

	"github.com/ludeng/ludeng/internal/apischema"
	"github.com/ludeng/ludeng/internal/batchview"
	"github.com/ludeng/ludeng/internal/plan"
	"github.com/ludeng/ludeng/internal/store"
)

// Contract lists the Go types whose schemas are generated into
// openapi.gen.json (components.schemas of the served document). To add a
// response type: Add it here, reference it from openapi.json as
// #/components/schemas/<Name>, run
//
//	LUDENG_UPDATE_OPENAPI=1 go test ./internal/httpapi -run TestOpenAPIGenerated
//
// and `npm run build` in web/ (docs/conventions.md).
func Contract() *apischema.Registry {
	statuses := func(v []store.BatchStatus) []string {
		out := make([]string, len(v))
		for i, s := range v {
			out[i] = string(s)
		}
		return out
	}
	var imageStatuses []string
	for _, s := range store.ImageStatuses {
		imageStatuses = append(imageStatuses, string(s))
	}
	var kinds []string
	for _, k := range store.EventKinds() {
		kinds = append(kinds, string(k))
	}
	return apischema.New().
		Enum(store.BatchStatus(""), statuses(store.BatchStatuses)...).
		Enum(store.ImageStatus(""), imageStatuses...).
		Enum(store.EventKind(""), kinds...).
		NonNull([]batchview.Group{}).NonNull([]batchview.Image{}).NonNull([]batchview.QCEntry{}).
		NonNull([]batchview.Summary{}).NonNull([]store.Event{}).NonNull([]plan.Scene{}).NonNull([]plan.Group{}).NonNull([]plan.Variant{}).NonNull([]plan.Label{}).NonNull(map[string]int{}).
		NonNull([]batchview.UsageRow{}).NonNull([]*store.HistoryRow{}).
		Add("Usage", batchview.Usage{}, "A user's spend per day and provider, totals and what the budgets leave.").
		Add("UsageRow", batchview.UsageRow{}, "Spend of one day and provider.").
		Add("Budget", batchview.Budget{}, "A user's budgets (null: none).").
		Add("HistoryRow", store.HistoryRow{}, "One combination of the user's history; state is reserved, used, released or archived.").
		Add("HistoryPage", batchview.HistoryPage{}, "One page of the combination history.").
		Add("Archived", batchview.Archived{}, "How many history rows were archived.").
		Add("SignedLink", batchview.SignedLink{}, "A download link that works without a session until it expires.").
		Add("QueueState", batchview.QueueState{}, "The generate queue after pause/resume.").
		Add("Meta", Meta{}, "Server facts the UI needs before login.").
		Add("Limits", Limits{}, "Request limits the UI checks before sending.").
		Add("Money", batchview.Money{}, "An amount as a decimal string in the server's currency.").
		Add("Estimate", batchview.Estimate{}, "Expected cost of a batch; per_image only on submission.").
		Add("Progress", batchview.Progress{}, "Image counts of a batch; done = succeeded + failed + cancelled.").
		Add("BatchReport", batchview.Report{}, "Outcome counts: images by status, failure reasons, QC rejections.").
		Add("ImageURLs", batchview.ImageURLs{}, "Content links by size; empty until the image has a result.").
		Add("ImageVariant", batchview.Variant{}, "Time and weather an image renders; base is the planned variant before QC nudges.").
		Add("QCEntry", batchview.QCEntry{}, "One QC rejection of an image.").
		Add("BatchImage", batchview.Image{}, "One image of a group.").
		Add("GroupNote", batchview.GroupNote{}, "A group's post kit (Xiaohongshu note draft); source is deepseek, template or edited.").
		Add("GroupProgress", batchview.GroupProgress{}, "Succeeded images of a group.").
		Add("BatchGroup", batchview.Group{}, "One scene of a batch with its images.").
		Add("BatchParams", batchview.Params{}, "Generation options of a batch.").
		Add("Batch", batchview.Batch{}, "A batch; queue_position and eta_seconds only while it is not terminal.").
		Add("BatchSummary", batchview.Summary{}, "A batch as the list shows it.").
		Add("BatchPage", batchview.SummaryPage{}, "One page of the batch list.").
		Add("DryRun", batchview.DryRun{}, "The plan and estimate of a dry-run submission.").
		Add("BatchEvent", store.Event{}, "One stored event of a batch's log; type is the event kind.").
		Add("BatchEventPage", batchview.EventPage{}, "A slice of a batch's event log.").
		Add("BatchStatus", store.BatchStatus(""), "Batch state; succeeded, partially_failed, failed and cancelled are terminal.").
		Add("ImageStatus", store.ImageStatus(""), "Image state; succeeded, failed and cancelled are terminal.").
		Add("EventKind", store.EventKind(""), "The one event vocabulary of the event log, the WebSocket stream and the webhooks.").
		Add("Plan", plan.Plan{}, "A batch plan: one combination and scene per group.").
		Add("PlanGroup", plan.Group{}, "One planned group.").
		Add("Combination", plan.Combination{}, "County, month, road and elements of a group.").
		Add("Scene", plan.Scene{}, "A combination named for people.").
		Add("Label", plan.Label{}, "An id with its Chinese and English names.")
}

//go:embed openapi.gen.json
var generatedSchemas []byte

// document merges the generated schemas into the hand-written document.
var document = sync.OnceValue(func() []byte {
	var doc map[string]any
	if err := json.Unmarshal(openAPIDoc, &doc); err != nil {
		panic("httpapi: openapi.json: " + err.Error())
	}
	var gen struct {
		Schemas map[string]any `json:"schemas"`
	}
	if err := json.Unmarshal(generatedSchemas, &gen); err != nil {
		panic("httpapi: openapi.gen.json: " + err.Error())
	}
	comps, _ := doc["components"].(map[string]any)
	schemas, _ := comps["schemas"].(map[string]any)
	for k, v := range gen.Schemas {
		schemas[k] = v
	}
	b, err := json.Marshal(doc)
	if err != nil {
		panic(err)
	}
	return b
})
