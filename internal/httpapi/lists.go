package httpapi

// List is a complete collection: {"items": [...]}.
type List[T any] struct {
	Items []T `json:"items" nonnull:""`
}

// listOf wraps v, encoding an empty collection as [] (never null).
func listOf[T any](v []T) List[T] {
	if v == nil {
		v = []T{}
	}
	return List[T]{Items: v}
}

// Page is one page of a collection; next_cursor is "" on the last page.
type Page[T any] struct {
	Items      []T    `json:"items" nonnull:""`
	NextCursor string `json:"next_cursor"`
}

// pageOf builds a page, encoding an empty one as [] (never null).
func pageOf[T any](v []T, next string) Page[T] {
	if v == nil {
		v = []T{}
	}
	return Page[T]{Items: v, NextCursor: next}
}
