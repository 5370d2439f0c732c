// Command testsummary reads `go test -json` output on stdin, prints failures
// with their output and a pass/fail count, and with -parity NAME checks that
// NAME/sqlite and NAME/postgres have equal, non-zero pass counts.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
)

type event struct {
	Action  string
	Package string
	Test    string
	Output  string
}

func main() {
	parity := flag.String("parity", "", "test name whose sqlite and postgres subtests must pass in equal numbers")
	flag.Parse()
	output := map[string]*strings.Builder{}
	var failed []string
	passed, skipped := 0, 0
	perEngine := map[string]int{}
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	for sc.Scan() {
		var e event
		if json.Unmarshal(sc.Bytes(), &e) != nil {
			continue
		}
		key := e.Package + " " + e.Test
		switch e.Action {
		case "output":
			b, ok := output[key]
			if !ok {
				b = &strings.Builder{}
				output[key] = b
			}
			if b.Len() < 64<<10 {
				b.WriteString(e.Output)
			}
		case "pass":
			if e.Test != "" {
				passed++
				if *parity != "" {
					for _, eng := range []string{"sqlite", "postgres"} {
						if strings.HasPrefix(e.Test, *parity+"/"+eng+"/") {
							perEngine[eng]++
						}
					}
				}
			}
		case "fail":
			failed = append(failed, key)
		case "skip":
			// Packages without test files report a package-level skip.
			if e.Test != "" {
				skipped++
			}
		}
	}
	sort.Strings(failed)
	for _, f := range failed {
		fmt.Printf("--- FAIL %s\n", f)
		if b := output[f]; b != nil {
			fmt.Print(b.String())
		}
	}
	fmt.Printf("tests: %d passed, %d failed, %d skipped\n", passed, len(failed), skipped)
	if *parity != "" {
		fmt.Printf("%s: sqlite %d passed, postgres %d passed\n", *parity, perEngine["sqlite"], perEngine["postgres"])
		if perEngine["sqlite"] == 0 || perEngine["sqlite"] != perEngine["postgres"] {
			fmt.Println("engine parity FAILED: the store suite must pass equally on both engines")
			os.Exit(1)
		}
	}
	if len(failed) > 0 {
		os.Exit(1)
	}
}
