package httpapi_test

import (
	"net/http/httptest"
	"net/netip"
)

func newRecorder() *httptest.ResponseRecorder { return httptest.NewRecorder() }

func mustPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }
