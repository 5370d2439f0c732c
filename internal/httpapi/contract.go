package httpapi

import (
	_ "embed"
	"encoding/json"
	"sync"

	"github.com/ludeng/ludeng/internal/apischema"
	"github.com/ludeng/ludeng/internal/batchview"
	"github.com/ludeng/ludeng/internal/pipeline"
	"github.com/ludeng/ludeng/internal/plan"
	"github.com/ludeng/ludeng/internal/pool"
	"github.com/ludeng/ludeng/internal/provider"
	"github.com/ludeng/ludeng/internal/store"
	"github.com/ludeng/ludeng/internal/upload"
	"github.com/ludeng/ludeng/internal/ws"
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
		NonNull([]ImageVersionItem{}).NonNull([]PostKitTone{}).
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
		Add("Label", plan.Label{}, "An id with its Chinese and English names.").
		// Accounts, tokens, audit.
		Add("User", store.User{}, "A user account; role is operator or admin.").
		Add("UserPage", Page[*store.User]{}, "One page of the user list.").
		Add("Me", Me{}, "The signed-in user, and the API token when the request used one (login answers the user only).").
		Add("APIToken", store.APIToken{}, "An API token without its secret; expires_at null only for tokens made before lifetimes were capped.").
		Add("APITokenPage", Page[*store.APIToken]{}, "The caller's API tokens (one page).").
		Add("CreatedToken", CreatedToken{}, "A new API token with the raw bearer token, shown this once.").
		Add("AuditEntry", store.AuditEntry{}, "One audit log record.").
		Add("AuditPage", Page[store.AuditEntry]{}, "One page of the audit log, newest first.").
		Add("LoginRequest", loginRequest{}, "Sign-in credentials.").
		Add("PasswordChange", passwordRequest{}, "The current and the new password.").
		Add("TokenCreate", tokenRequest{}, "A token to create.").
		Add("UserCreate", createUserRequest{}, "An account to create.").
		Add("UserUpdate", updateUserRequest{}, "Changes to an account; an absent field stays.").
		// Element pool.
		Add("PoolVersion", PoolVersion{}, "The element pool the server plans with.").
		Add("PoolCounts", pool.Counts{}, "How many entries of each kind the pool has.").
		Add("PoolChange", PoolChange{}, "The stored pool version an edit created.").
		Add("PoolReload", PoolReload{}, "The current pool version after a reload, and whether it changed.").
		Add("PoolProvince", PoolProvince{}, "A province with its number of counties.").
		Add("PoolProvinceList", List[PoolProvince]{}, "Every province.").
		Add("PoolBBox", pool.BBox{}, "A bounding box in degrees.").
		Add("PoolTerm", pool.Term{}, "A local term (crop, plant, landmark…) in Chinese and English.").
		Add("PoolRegionInput", pool.Region{}, "A county-level region as an admin writes it.").
		Add("PoolRegion", PoolRegion{}, "A county-level region with its province.").
		Add("PoolRegionList", List[PoolRegion]{}, "The regions of a province.").
		Add("PoolRegionMatch", PoolRegionMatch{}, "A region found by a search and what matched (empty without a query).").
		Add("PoolRegionMatchList", List[PoolRegionMatch]{}, "Search results, best first.").
		Add("PoolRoad", pool.Road{}, "A road surface.").
		Add("PoolRoadList", List[*pool.Road]{}, "Every road surface.").
		Add("PoolZone", pool.Zone{}, "A climate zone.").
		Add("PoolZoneList", List[*pool.Zone]{}, "Every climate zone.").
		Add("PoolSeason", pool.Season{}, "One cell of the month × zone season table.").
		Add("PoolSeasonList", List[*pool.Season]{}, "Season table cells.").
		Add("PoolCategory", pool.Category{}, "A category of scene elements.").
		Add("PoolElementFit", pool.Fit{}, "Where and when a scene element fits; an empty list means any.").
		Add("PoolElement", pool.Element{}, "A scene element.").
		Add("PoolElements", PoolElements{}, "The scene elements that fit, and every category.").
		// Uploads.
		Add("Upload", Upload{}, "An uploaded product photo.").
		Add("UploadURLs", UploadURLs{}, "Content links of an upload by size (they need the session or a token).").
		Add("UploadWarning", upload.Warning{}, "Something about the photo that may spoil the results (low resolution…).").
		Add("UploadEXIF", upload.EXIF{}, "The photo metadata that was kept, and what was removed.").
		Add("UploadPage", Page[Upload]{}, "One page of the caller's uploads, newest first.").
		Add("UploadLinkCreate", linkRequest{}, "A signed link to create.").
		// Presets.
		Add("PresetSettings", pipeline.PresetSettings{}, "A batch request without upload_id, seed and dry_run, normalised; the same names and rules as POST /api/v1/batches.").
		Input(PresetSettingsInput{}).
		Add("PresetSettingsInput", PresetSettingsInput{}, "Preset settings as sent: any field left out gets the batch request's default.").
		Add("Preset", Preset{}, "Saved batch settings.").
		Add("PresetPage", Page[Preset]{}, "One page of the caller's presets, by name.").
		// Providers.
		Add("ProviderStatus", provider.Status{}, "One image provider; state is ok, degraded, circuit_open, quota_exhausted, auth_failed, model_gone or not_configured.").
		Add("Providers", Providers{}, "The image providers in fallback order.").
		Add("ProbeResult", provider.ProbeResult{}, "The outcome of probing one provider.").
		Add("ProbeList", List[provider.ProbeResult]{}, "Probe outcomes, one per provider.").
		Add("KieAck", KieAck{}, "The acknowledgement kie expects from a callback receiver.").
		// Webhooks.
		Add("Webhook", Webhook{}, "The caller's webhook.").
		Add("WebhookPut", webhookRequest{}, "The webhook to create or replace.").
		Add("WebhookDelivery", WebhookDelivery{}, "One queued or attempted webhook delivery.").
		Add("WebhookDeliveryPage", Page[WebhookDelivery]{}, "One page of the delivery log, newest first.").
		// Picking and post kits.
		Add("BatchLabel", BatchLabelResponse{}, "A batch's name and archive state.").
		Add("ImageStar", ImageStarResponse{}, "Whether an image is starred.").
		Add("ImageVersion", ImageVersionItem{}, "A kept result of an image; id is \"current\" for a current result not yet kept.").
		Add("ImageVersionList", ImageVersionList{}, "The kept results of an image, the current one marked.").
		Add("PostKitTone", PostKitTone{}, "A tone preset for post kits.").
		Add("PostKitToneList", PostKitToneList{}, "The tone presets, the default first.").
		// The WebSocket's frames (GET /api/v1/ws is an upgrade, so no
		// operation refers to them; they are here so the SPA's frame
		// types are generated like every other).
		Add("LiveClientMessage", ws.ClientMessage{}, "A frame a client sends on GET /api/v1/ws: subscribe to (or unsubscribe from) a batch's events.").
		Add("LiveServerMessage", ws.ServerMessage{}, "A frame the server sends on GET /api/v1/ws: a snapshot (data is a Batch), an event of the batch's log, or an error.")
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
