// Package apischema derives OpenAPI 3.1 (JSON Schema 2020-12) component
// schemas from Go types by reflection, following encoding/json's rules, so
// the API document describes exactly what the handlers encode.
//
// Rules: exported fields by their json names; a field without omitempty is
// required; a pointer or slice without omitempty may be null unless the
// type or field guarantees otherwise (NonNull, or a `nonnull:""` field
// tag); the pointer elements of a slice are never null (lists are built by
// appending values); time.Time is a date-time string;
// json.RawMessage is any JSON; maps are objects of their element schema;
// an `enum:"a,b"` field tag lists the allowed values, `example` and `doc`
// tags add an example and a description; registered types become $refs;
// a request type marked with Input requires only fields tagged
// `required:""`, in itself and in the objects it nests inline;
// objects list every property and allow no other (additionalProperties
// false), so a new field without a regenerated document fails the
// response-validation test.
package apischema

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Registry collects named component schemas.
type Registry struct {
	names   map[reflect.Type]string
	order   []reflect.Type
	enums   map[reflect.Type][]string
	docs    map[string]string
	nonNull map[reflect.Type]bool
	inputs  map[reflect.Type]bool
	// input > 0 while an Input type (or an object nested inline in one) is
	// being defined.
	input int
}

// New returns an empty registry.
func New() *Registry {
	return &Registry{names: map[reflect.Type]string{}, enums: map[reflect.Type][]string{}, docs: map[string]string{},
		nonNull: map[reflect.Type]bool{}, inputs: map[reflect.Type]bool{}}
}

// Add registers v's type as the component name, with a description.
func (r *Registry) Add(name string, v any, description string) *Registry {
	t := reflect.TypeOf(v)
	if prev, ok := r.names[t]; ok && prev != name {
		panic(fmt.Sprintf("apischema: %s already registered as %s", t, prev))
	}
	r.names[t] = name
	r.order = append(r.order, t)
	r.docs[name] = description
	return r
}

// Enum lists the values of a string type (typed statuses, event kinds).
func (r *Registry) Enum(v any, values ...string) *Registry {
	r.enums[reflect.TypeOf(v)] = values
	return r
}

// NonNull declares that slices and maps of v's type are never encoded as
// null (the code that builds them always allocates).
func (r *Registry) NonNull(v any) *Registry {
	r.nonNull[reflect.TypeOf(v)] = true
	return r
}

// Input marks v's type as a request body whose omitted fields the server
// fills with defaults: only fields tagged `required:""` are required, in
// it and in the objects it nests inline. The same Go struct as a response
// lists every field as required, because the server always sends them.
func (r *Registry) Input(v any) *Registry {
	r.inputs[reflect.TypeOf(v)] = true
	return r
}

// Schemas returns the component schemas by name.
func (r *Registry) Schemas() map[string]any {
	out := map[string]any{}
	for _, t := range r.order {
		s := r.define(t)
		if d := r.docs[r.names[t]]; d != "" {
			s["description"] = d
		}
		out[r.names[t]] = s
	}
	return out
}

// JSON is Schemas as indented JSON with sorted keys (stable diffs).
func (r *Registry) JSON() []byte {
	b, err := json.MarshalIndent(map[string]any{"schemas": r.Schemas()}, "", "  ")
	if err != nil {
		panic(err)
	}
	return append(b, '\n')
}

var (
	timeType = reflect.TypeOf(time.Time{})
	rawType  = reflect.TypeOf(json.RawMessage{})
)

// ref is the schema of a use of t: a $ref for registered types.
func (r *Registry) ref(t reflect.Type) map[string]any {
	if name, ok := r.names[t]; ok {
		return map[string]any{"$ref": "#/components/schemas/" + name}
	}
	return r.define(t)
}

func (r *Registry) define(t reflect.Type) map[string]any {
	if vals, ok := r.enums[t]; ok {
		return map[string]any{"type": "string", "enum": vals}
	}
	switch {
	case t == timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case t == rawType:
		return map[string]any{}
	}
	switch t.Kind() {
	case reflect.Pointer:
		return nullable(r.ref(t.Elem()))
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return map[string]any{"type": "string", "contentEncoding": "base64"}
		}
		s := map[string]any{"type": "array", "items": r.itemRef(t.Elem())}
		if !r.nonNull[t] {
			return nullable(s)
		}
		return s
	case reflect.Array:
		return map[string]any{"type": "array", "items": r.ref(t.Elem()), "minItems": t.Len(), "maxItems": t.Len()}
	case reflect.Map:
		s := map[string]any{"type": "object", "additionalProperties": r.ref(t.Elem())}
		if !r.nonNull[t] {
			return nullable(s)
		}
		return s
	case reflect.Interface:
		return map[string]any{}
	case reflect.Struct:
		if r.inputs[t] {
			r.input++
			defer func() { r.input-- }()
		}
		return r.object(t)
	}
	panic("apischema: unsupported type " + t.String())
}

func (r *Registry) object(t reflect.Type) map[string]any {
	props := map[string]any{}
	var required []string
	r.fields(t, props, &required)
	sort.Strings(required)
	s := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		s["required"] = required
	}
	return s
}

func (r *Registry) fields(t reflect.Type, props map[string]any, required *[]string) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				r.fields(ft, props, required)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		omit := strings.Contains(opts, "omitempty") || strings.Contains(opts, "omitzero")
		var s map[string]any
		if strings.Contains(opts, "string") {
			s = map[string]any{"type": "string"}
		} else if _, nn := f.Tag.Lookup("nonnull"); nn || (omit && (f.Type.Kind() == reflect.Pointer || f.Type.Kind() == reflect.Slice || f.Type.Kind() == reflect.Map)) {
			// Omitted when nil (or never nil: the nonnull tag), so present means non-null.
			s = r.nonNullRef(f.Type)
		} else {
			s = r.ref(f.Type)
		}
		if vals, ok := f.Tag.Lookup("enum"); ok {
			s = withEnum(s, f.Type, strings.Split(vals, ","))
		}
		if ex, ok := f.Tag.Lookup("example"); ok {
			s = withExample(s, f.Type, ex)
		}
		if d, ok := f.Tag.Lookup("doc"); ok {
			s = withKey(s, "description", d)
		}
		props[name] = s
		_, tagged := f.Tag.Lookup("required")
		if !omit && (r.input == 0 || tagged) {
			*required = append(*required, name)
		}
	}
}

func (r *Registry) nonNullRef(t reflect.Type) map[string]any {
	switch t.Kind() {
	case reflect.Pointer:
		return r.ref(t.Elem())
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return r.ref(t)
		}
		return map[string]any{"type": "array", "items": r.itemRef(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": r.ref(t.Elem())}
	}
	return r.ref(t)
}

// itemRef is the schema of a slice element: a pointer element is its
// target, never null.
func (r *Registry) itemRef(t reflect.Type) map[string]any {
	if t.Kind() == reflect.Pointer {
		return r.ref(t.Elem())
	}
	return r.ref(t)
}

// withKey adds a keyword; next to a $ref it wraps (3.1 allows siblings, but
// generators handle allOf more uniformly).
func withKey(s map[string]any, k string, v any) map[string]any {
	out := map[string]any{}
	for kk, vv := range s {
		out[kk] = vv
	}
	out[k] = v
	return out
}

func withExample(s map[string]any, t reflect.Type, ex string) map[string]any {
	var v any = ex
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int64, reflect.Int32:
		if n, err := strconv.ParseInt(ex, 10, 64); err == nil {
			v = n
		}
	case reflect.Bool:
		v = ex == "true"
	}
	return withKey(s, "examples", []any{v})
}

// withEnum restricts a string or integer field, or the elements of a slice
// of them, to the values of an `enum:"a,b"` tag (for fields whose Go type is
// a plain string shared with other uses).
func withEnum(s map[string]any, t reflect.Type, vals []string) map[string]any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() == reflect.Slice {
		items, _ := s["items"].(map[string]any)
		out := withKey(s, "items", withEnum(items, t.Elem(), vals))
		return out
	}
	enum := make([]any, 0, len(vals))
	for _, v := range vals {
		switch t.Kind() {
		case reflect.Int, reflect.Int64, reflect.Int32:
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				panic(fmt.Sprintf("apischema: enum value %q of %s is not an integer", v, t))
			}
			enum = append(enum, n)
		case reflect.String:
			enum = append(enum, v)
		default:
			panic("apischema: enum tag on " + t.String())
		}
	}
	if ty, ok := s["type"].([]string); ok && len(ty) == 2 && ty[1] == "null" {
		enum = append(enum, nil)
	}
	return withKey(s, "enum", enum)
}

// nullable allows null besides s.
func nullable(s map[string]any) map[string]any {
	if ty, ok := s["type"].(string); ok {
		out := withKey(s, "type", []string{ty, "null"})
		if enum, ok := s["enum"].([]string); ok {
			vals := make([]any, 0, len(enum)+1)
			for _, e := range enum {
				vals = append(vals, e)
			}
			out["enum"] = append(vals, nil)
		}
		return out
	}
	return map[string]any{"anyOf": []any{s, map[string]any{"type": "null"}}}
}
