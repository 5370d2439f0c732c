package httpapi_test

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ludeng/ludeng/internal/httpapi"
)

// TestNoUntypedResponseBodies is a vet-style check over the package's
// source: the body argument of writeJSON/writeJSONTagged must not be a
// map[string]any (a literal, or a variable declared as one in the same
// function). There is no allowlist: every response is a named type, which
// the OpenAPI document describes (docs/conventions.md).
func TestNoUntypedResponseBodies(t *testing.T) {
	require.Empty(t, untypedBodies(t, "."), "responses built as map[string]any: return a named type (docs/conventions.md)")
}

// TestResponseSchemasGenerated: every JSON success body of the document
// refers to a schema generated from a Go type (Contract), and the
// hand-written part defines none of those names, so a response schema has
// exactly one source.
func TestResponseSchemasGenerated(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]struct {
			OperationID string `json:"operationId"`
			Responses   map[string]struct {
				Content map[string]struct {
					Schema map[string]any `json:"schema"`
				} `json:"content"`
			} `json:"responses"`
		} `json:"paths"`
		Components struct {
			Schemas map[string]any `json:"schemas"`
		} `json:"components"`
	}
	raw, err := os.ReadFile("openapi.json")
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &doc))
	generated := httpapi.Contract().Schemas()
	for name := range doc.Components.Schemas {
		_, dup := generated[name]
		require.False(t, dup, "openapi.json defines schema %s, which is generated from Go types: delete it", name)
	}
	for path, item := range doc.Paths {
		for method, op := range item {
			for code, res := range op.Responses {
				js, ok := res.Content["application/json"]
				if !ok || !strings.HasPrefix(code, "2") || op.OperationID == "getOpenapi_json" {
					continue
				}
				ref, _ := js.Schema["$ref"].(string)
				name, ok := strings.CutPrefix(ref, "#/components/schemas/")
				require.True(t, ok, "%s %s %s: the success body must be a $ref to a generated schema, not inline", method, path, code)
				_, ok = generated[name]
				require.True(t, ok, "%s %s %s: schema %s is not generated (register its Go type in Contract)", method, path, code, name)
			}
		}
	}
}

// TestUntypedBodyCheckFindsOne shows the check has teeth on a file that
// writes a map literal and a map variable.
func TestUntypedBodyCheckFindsOne(t *testing.T) {
	dir := t.TempDir()
	src := `package httpapi
func h() error {
	v := map[string]any{"a": 1}
	_ = writeJSON(nil, 200, map[string]any{"b": 2})
	return writeJSON(nil, 200, v)
}`
	require.NoError(t, os.WriteFile(dir+"/x.go", []byte(src), 0o644))
	require.Len(t, untypedBodies(t, dir), 2)
}

func untypedBodies(t *testing.T, dir string) []string {
	t.Helper()
	fset := token.NewFileSet()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var out []string
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, dir+"/"+name, nil, 0)
		require.NoError(t, err)
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			maps := mapVars(fn.Body)
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				id, ok := call.Fun.(*ast.Ident)
				if !ok || (id.Name != "writeJSON" && id.Name != "writeJSONTagged") || len(call.Args) == 0 {
					return true
				}
				arg := call.Args[len(call.Args)-1]
				if isAnyMap(arg) {
					out = append(out, fmt.Sprintf("%s:%d", name, fset.Position(arg.Pos()).Line))
				} else if v, ok := arg.(*ast.Ident); ok && maps[v.Name] {
					out = append(out, fmt.Sprintf("%s:%d", name, fset.Position(arg.Pos()).Line))
				}
				return true
			})
		}
	}
	sort.Strings(out)
	return out
}

// mapVars are the function's variables declared as map[string]any.
func mapVars(body *ast.BlockStmt) map[string]bool {
	m := map[string]bool{}
	ast.Inspect(body, func(n ast.Node) bool {
		switch s := n.(type) {
		case *ast.AssignStmt:
			for i, r := range s.Rhs {
				if i < len(s.Lhs) && isAnyMap(r) {
					if id, ok := s.Lhs[i].(*ast.Ident); ok {
						m[id.Name] = true
					}
				}
			}
		case *ast.ValueSpec:
			if s.Type != nil && isAnyMapType(s.Type) {
				for _, id := range s.Names {
					m[id.Name] = true
				}
			}
			for i, v := range s.Values {
				if i < len(s.Names) && isAnyMap(v) {
					m[s.Names[i].Name] = true
				}
			}
		}
		return true
	})
	return m
}

func isAnyMap(e ast.Expr) bool {
	if cl, ok := e.(*ast.CompositeLit); ok {
		return isAnyMapType(cl.Type)
	}
	return false
}

func isAnyMapType(e ast.Expr) bool {
	switch t := e.(type) {
	case *ast.MapType:
		if k, ok := t.Key.(*ast.Ident); ok && k.Name == "string" {
			if v, ok := t.Value.(*ast.Ident); ok && v.Name == "any" {
				return true
			}
			if v, ok := t.Value.(*ast.InterfaceType); ok && len(v.Methods.List) == 0 {
				return true
			}
		}
	case *ast.ArrayType:
		return isAnyMapType(t.Elt)
	}
	return false
}
