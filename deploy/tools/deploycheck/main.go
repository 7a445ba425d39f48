// Command deploycheck checks the deployment files the way Docker would read them, without a
// Docker engine (the tests run where none is):
//
//	deploycheck compose FILE            load FILE like `docker compose config` (compose-go:
//	                                    Compose Specification schema, interpolation, path
//	                                    resolution, normalisation, consistency) and print the
//	                                    resolved project as JSON; exit 1 with the error otherwise
//	deploycheck context ROOT IGNOREFILE print the files of build context ROOT that a build
//	                                    sends, one per line, with IGNOREFILE's patterns applied
//	                                    by moby/patternmatcher, the matcher Docker builds use
package main

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

func main() {
	var err error
	switch {
	case len(os.Args) == 3 && os.Args[1] == "compose":
		err = compose(os.Args[2])
	case len(os.Args) == 4 && os.Args[1] == "context":
		err = buildContext(os.Args[2], os.Args[3])
	default:
		err = fmt.Errorf("usage: deploycheck compose FILE | deploycheck context ROOT IGNOREFILE")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "deploycheck:", err)
		os.Exit(1)
	}
}

func compose(file string) error {
	// The options `docker compose` uses to load a project (compose/cmd/compose ToProject).
	options, err := cli.NewProjectOptions([]string{file},
		cli.WithOsEnv,
		cli.WithDotEnv,
		cli.WithInterpolation(true),
		cli.WithResolvedPaths(true),
		cli.WithNormalization(true),
		cli.WithConsistency(true),
	)
	if err != nil {
		return err
	}
	project, err := options.LoadProject(context.Background())
	if err != nil {
		return err
	}
	out, err := project.MarshalJSON()
	if err != nil {
		return err
	}
	fmt.Println(string(out))
	return nil
}

func buildContext(root, ignoreFile string) error {
	reader, err := os.Open(ignoreFile)
	if err != nil {
		return err
	}
	defer reader.Close()
	patterns, err := ignorefile.ReadAll(reader)
	if err != nil {
		return err
	}
	matcher, err := patternmatcher.New(patterns)
	if err != nil {
		return err
	}
	return filepath.WalkDir(root, func(path string, entry fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) { // a file that went away during the walk
				return nil
			}
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil || rel == "." {
			return err
		}
		rel = filepath.ToSlash(rel)
		excluded, err := matcher.MatchesOrParentMatches(rel)
		if err != nil {
			return err
		}
		if entry.IsDir() {
			if excluded && !mayReinclude(matcher, rel) {
				return filepath.SkipDir
			}
			return nil
		}
		if !excluded {
			fmt.Println(rel)
		}
		return nil
	})
}

// mayReinclude says whether an exception pattern (`!...`) could take back something under an
// excluded directory, so the walk descends only where it must (as BuildKit's walker does).
func mayReinclude(matcher *patternmatcher.PatternMatcher, dir string) bool {
	for _, pattern := range matcher.Patterns() {
		if !pattern.Exclusion() {
			continue
		}
		literal := pattern.String()
		if i := strings.IndexAny(literal, "*?[\\"); i >= 0 {
			literal = literal[:i]
		}
		if literal == "" || strings.HasPrefix(literal, dir+"/") || strings.HasPrefix(dir, literal) {
			return true
		}
	}
	return false
}
