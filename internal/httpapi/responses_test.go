package httpapi_test

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// untypedBodiesLeft are the handlers that still encode a map[string]any
// body (issue 16 follow-up). The list may only shrink: a new handler must
// return a named type, which the OpenAPI document then describes.
var untypedBodiesLeft = map[string]bool{
	"admin.go": true, "auth.go": true,
	"pool.go": true, "presets.go": true, "providers.go": true,
	"uploads.go": true, "webhooks.go": true,
}

// TestNoUntypedResponseBodies is a vet-style check over the package's
// source: the body argument of writeJSON/writeJSONTagged must not be a
// map[string]any (a literal, or a variable declared as one in the same
// function).
func TestNoUntypedResponseBodies(t *testing.T) {
	found := untypedBodies(t, ".")
	var unexpected []string
	stillThere := map[string]bool{}
	for _, f := range found {
		file := f[:strings.Index(f, ":")]
		stillThere[file] = true
		if !untypedBodiesLeft[file] {
			unexpected = append(unexpected, f)
		}
	}
	require.Empty(t, unexpected, "responses built as map[string]any: return a named type (docs/conventions.md)")
	for file := range untypedBodiesLeft {
		require.True(t, stillThere[file], "%s has no untyped body left: remove it from untypedBodiesLeft", file)
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
