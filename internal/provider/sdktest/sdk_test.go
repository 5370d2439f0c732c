package sdktest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/ludeng/ludeng/internal/provider/fake"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"
	"github.com/stretchr/testify/require"
	"google.golang.org/genai"
)

const key = "sdk-test-key"

func photo(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 120, 200))
	for i := range img.Pix {
		img.Pix[i] = 255
	}
	for y := 20; y < 200; y++ {
		img.SetRGBA(58, y, color.RGBA{40, 40, 40, 255})
	}
	var buf bytes.Buffer
	require.NoError(t, jpeg.Encode(&buf, img, nil))
	return buf.Bytes()
}

func server(t *testing.T) (*fake.Server, string) {
	t.Helper()
	f := fake.New(fake.Options{APIKey: key, StaticImages: true}, nil)
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv.URL
}

func decodeSize(t *testing.T, data []byte) image.Point {
	t.Helper()
	cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
	require.NoError(t, err)
	return image.Pt(cfg.Width, cfg.Height)
}

func genaiClient(t *testing.T, base string) *genai.Client {
	t.Helper()
	c, err := genai.NewClient(context.Background(), &genai.ClientConfig{
		APIKey: key, Backend: genai.BackendGeminiAPI,
		HTTPOptions: genai.HTTPOptions{BaseURL: base, APIVersion: "v1beta"},
		HTTPClient:  http.DefaultClient,
	})
	require.NoError(t, err)
	return c
}

func TestGenAIGenerateContent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, prefix, aspect, size string
		want                       image.Point
	}{
		{"prefix 3:4 1K", "/gemini/", "3:4", "1K", image.Pt(896, 1200)},
		{"root 9:16 2K", "/", "9:16", "2K", image.Pt(1536, 2752)},
		{"prefix 1:1 1K", "/gemini/", "1:1", "1K", image.Pt(1024, 1024)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, url := server(t)
			c := genaiClient(t, url+tc.prefix)
			contents := []*genai.Content{genai.NewContentFromParts([]*genai.Part{
				genai.NewPartFromText("傍晚 土路 三轮车，保持产品外观不变"),
				genai.NewPartFromBytes(photo(t), "image/jpeg"),
			}, genai.RoleUser)}
			resp, err := c.Models.GenerateContent(context.Background(), "gemini-nano-banana-2.1", contents,
				&genai.GenerateContentConfig{ResponseModalities: []string{"IMAGE"},
					ImageConfig: &genai.ImageConfig{AspectRatio: tc.aspect, ImageSize: tc.size}})
			require.NoError(t, err)
			require.Len(t, resp.Candidates, 1)
			require.Equal(t, genai.FinishReasonStop, resp.Candidates[0].FinishReason)
			var img *genai.Blob
			thoughts := 0
			for _, p := range resp.Candidates[0].Content.Parts {
				if p.Thought {
					thoughts++
					continue
				}
				if p.InlineData != nil {
					img = p.InlineData
				}
			}
			require.Equal(t, 1, thoughts)
			require.NotNil(t, img)
			require.Equal(t, "image/jpeg", img.MIMEType)
			require.Equal(t, tc.want, decodeSize(t, img.Data))
			require.Equal(t, int32(1290), resp.UsageMetadata.CandidatesTokenCount)
			require.Equal(t, "gemini-nano-banana-2.1", resp.ModelVersion)
		})
	}
}

func TestGenAIErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		step   string
		code   int
		status string
	}{
		{"model_not_found", 404, "NOT_FOUND"},
		{"location", 400, "FAILED_PRECONDITION"},
		{"bad_request", 400, "INVALID_ARGUMENT"},
	}
	for _, tc := range tests {
		t.Run(tc.step, func(t *testing.T) {
			t.Parallel()
			f, url := server(t)
			require.NoError(t, f.Script("gemini", tc.step))
			c := genaiClient(t, url+"/gemini/")
			_, err := c.Models.GenerateContent(context.Background(), "gemini-nano-banana-2.1",
				genai.Text("noon"), nil)
			var apiErr genai.APIError
			require.ErrorAs(t, err, &apiErr)
			require.Equal(t, tc.code, apiErr.Code)
			require.Equal(t, tc.status, apiErr.Status)
		})
	}
	// A text-only answer and a blocked prompt are well-formed 200s.
	f, url := server(t)
	require.NoError(t, f.Script("gemini", "no_image", "blocked"))
	c := genaiClient(t, url+"/gemini/")
	resp, err := c.Models.GenerateContent(context.Background(), "m", genai.Text("noon"), nil)
	require.NoError(t, err)
	require.Equal(t, genai.FinishReason("NO_IMAGE"), resp.Candidates[0].FinishReason)
	require.NotEmpty(t, resp.Text())
	resp, err = c.Models.GenerateContent(context.Background(), "m", genai.Text("noon"), nil)
	require.NoError(t, err)
	require.Empty(t, resp.Candidates)
	require.Equal(t, genai.BlockedReasonProhibitedContent, resp.PromptFeedback.BlockReason)
}

func openaiClient(base string) openai.Client {
	return openai.NewClient(option.WithAPIKey(key), option.WithBaseURL(base), option.WithMaxRetries(0))
}

func TestOpenAIImagesEdit(t *testing.T) {
	t.Parallel()
	for _, prefix := range []string{"/openai/v1/", "/v1/"} {
		t.Run(prefix, func(t *testing.T) {
			t.Parallel()
			_, url := server(t)
			c := openaiClient(url + prefix)
			resp, err := c.Images.Edit(context.Background(), openai.ImageEditParams{
				Image:        openai.ImageEditParamsImageUnion{OfFile: openai.File(bytes.NewReader(photo(t)), "product.jpg", "image/jpeg")},
				Prompt:       "把路灯放到傍晚的土路边",
				Model:        openai.ImageModelGPTImage1_5,
				Size:         openai.ImageEditParamsSize1024x1536,
				Quality:      openai.ImageEditParamsQualityMedium,
				OutputFormat: openai.ImageEditParamsOutputFormatJPEG,
			})
			require.NoError(t, err)
			require.Len(t, resp.Data, 1)
			data, err := base64.StdEncoding.DecodeString(resp.Data[0].B64JSON)
			require.NoError(t, err)
			require.Equal(t, image.Pt(1024, 1536), decodeSize(t, data))
			require.Equal(t, openai.ImagesResponseOutputFormatJPEG, resp.OutputFormat)
			require.Equal(t, int64(6240), resp.Usage.OutputTokens)
		})
	}
}

func TestOpenAIErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		step   string
		status int
		code   string
	}{
		{"blocked", 400, "moderation_blocked"},
		{"quota", 429, "insufficient_quota"},
		{"429", 429, "rate_limit_exceeded"},
		{"model_not_found", 404, "model_not_found"},
		{"auth", 401, "invalid_api_key"},
	}
	for _, tc := range tests {
		t.Run(tc.step, func(t *testing.T) {
			t.Parallel()
			f, url := server(t)
			require.NoError(t, f.Script("openai", tc.step))
			c := openaiClient(url + "/openai/v1/")
			_, err := c.Images.Edit(context.Background(), openai.ImageEditParams{
				Image:  openai.ImageEditParamsImageUnion{OfFile: openai.File(bytes.NewReader(photo(t)), "p.jpg", "image/jpeg")},
				Prompt: "x", Model: openai.ImageModelGPTImage1_5,
			})
			var apiErr *openai.Error
			require.True(t, errors.As(err, &apiErr), "%v", err)
			require.Equal(t, tc.status, apiErr.StatusCode)
			require.Equal(t, tc.code, apiErr.Code)
		})
	}
}

// DeepSeek is OpenAI-compatible: the SDK must read through the blank
// keep-alive lines and get JSON-mode content.
func TestOpenAIChatAgainstDeepSeek(t *testing.T) {
	t.Parallel()
	_, url := server(t)
	c := openaiClient(url + "/deepseek/")
	resp, err := c.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model: "deepseek-flash",
		Messages: []openai.ChatCompletionMessageParamUnion{
			openai.SystemMessage(`Answer only with json: {"prompt": "...", "negative": "..."}`),
			openai.UserMessage("河北邢台 七月 土路"),
		},
		ResponseFormat: openai.ChatCompletionNewParamsResponseFormatUnion{OfJSONObject: &shared.ResponseFormatJSONObjectParam{}},
	})
	require.NoError(t, err)
	var out struct {
		Prompt   string `json:"prompt"`
		Negative string `json:"negative"`
	}
	require.NoError(t, json.Unmarshal([]byte(resp.Choices[0].Message.Content), &out))
	require.Contains(t, out.Prompt, "河北邢台")
	require.Equal(t, int64(180), resp.Usage.CompletionTokens)
}

// OpenRouter's image output is an extra "images" field on the message.
func TestOpenAIChatAgainstOpenRouter(t *testing.T) {
	t.Parallel()
	_, url := server(t)
	c := openaiClient(url + "/openrouter/api/v1/")
	resp, err := c.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model: "google/gemini-3-pro-image",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage([]openai.ChatCompletionContentPartUnionParam{
			openai.TextContentPart("noon, cement road"),
			openai.ImageContentPart(openai.ChatCompletionContentPartImageImageURLParam{
				URL: "data:image/jpeg;base64," + base64.StdEncoding.EncodeToString(photo(t))}),
		})},
	}, option.WithJSONSet("modalities", []string{"image", "text"}),
		option.WithJSONSet("image_config", map[string]string{"aspect_ratio": "3:4", "image_size": "1K"}))
	require.NoError(t, err)
	var msg struct {
		Images []struct {
			ImageURL struct {
				URL string `json:"url"`
			} `json:"image_url"`
		} `json:"images"`
	}
	require.NoError(t, json.Unmarshal([]byte(resp.Choices[0].Message.RawJSON()), &msg))
	require.Len(t, msg.Images, 1)
	_, b64, _ := bytes.Cut([]byte(msg.Images[0].ImageURL.URL), []byte(","))
	data, err := base64.StdEncoding.DecodeString(string(b64))
	require.NoError(t, err)
	require.Equal(t, image.Pt(896, 1200), decodeSize(t, data))
}
