package upload

import "github.com/ludeng/ludeng/internal/fault"

// Refusals. Each is a *fault.Error whose Kind the HTTP layer maps to the
// status in the comment; copies made with With carry machine params for
// the UI (limits, measured values). clamav.ErrUnavailable (503
// scanner_unavailable) and blob.ErrDiskFull (507 disk_full) are passed
// through unchanged.
var (
	// ErrTooLarge: 413, params max_bytes.
	ErrTooLarge = fault.New(fault.TooLarge, "upload_too_large", "The file is larger than the allowed maximum.")
	// ErrUnsupportedType: 415, params detected (best guess, may be
	// "unknown") and allowed.
	ErrUnsupportedType = fault.New(fault.Unsupported, "upload_unsupported_type", "Only JPEG, PNG and WebP images are accepted.")
	// ErrCorrupt: 422; the file claims to be an image but does not decode.
	ErrCorrupt = fault.New(fault.Unprocessable, "upload_corrupt", "The image could not be decoded; it may be truncated or damaged.")
	// ErrTooManyPixels: 422, params width, height, max_pixels (and
	// estimated_bytes, max_decode_bytes when the memory estimate refused it).
	ErrTooManyPixels = fault.New(fault.Unprocessable, "upload_too_many_pixels", "The image has too many pixels to process.")
	// ErrTooManyScans: 422, params scans_max. A progressive JPEG costs a
	// decoder pass over every block per scan; encoders write about 10.
	ErrTooManyScans = fault.New(fault.Unprocessable, "upload_too_many_scans", "The JPEG has too many progressive scans to decode.")
	// ErrDecodeBudget: 422, params decode_timeout_seconds; decoding took
	// longer than the per-image budget.
	ErrDecodeBudget = fault.New(fault.Unprocessable, "upload_decode_budget", "The image took too long to decode.")
	// ErrTooSmall: 422, params width, height, min_side.
	ErrTooSmall = fault.New(fault.Unprocessable, "upload_too_small", "The image is too small; its shorter side must be larger.")
	// ErrBadAspect: 422, params width, height, max_aspect.
	ErrBadAspect = fault.New(fault.Unprocessable, "upload_bad_aspect", "The image is too narrow or too wide.")
	// ErrMalware: 422, params signature. The caller records a security
	// audit row.
	ErrMalware = fault.New(fault.Unprocessable, "upload_malware", "The file was rejected by the malware scanner.")
	// ErrEmpty: 400; a zero-byte file part.
	ErrEmpty = fault.New(fault.Invalid, "upload_empty", "The uploaded file is empty.")
	// ErrMultipleParts: 400; the multipart body has more than one part.
	ErrMultipleParts = fault.New(fault.Invalid, "upload_multiple_parts", "Send exactly one file, in a form field named \"file\".")
	// ErrMissingFile: 400; the first part is not a file field named "file".
	ErrMissingFile = fault.New(fault.Invalid, "upload_missing_file", "Send the image in a multipart form field named \"file\".")
	// ErrBadMultipart: 400; the body is not a well-formed multipart stream.
	ErrBadMultipart = fault.New(fault.Invalid, "upload_bad_multipart", "The request body is not a valid multipart form.")
)
