// composecheck loads a Compose file the way `docker compose config` does (compose-go, the
// Compose specification's reference loader: schema validation, interpolation, merging,
// normalisation) without needing a container engine, and prints the resolved model.
//
// Usage: composecheck [-format json|yaml] [-env-file FILE] FILE...
// Exit status: 0 when the model is valid, 1 with the loader's message when it is not.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/compose-spec/compose-go/v2/cli"
)

func main() {
	format := flag.String("format", "json", "json or yaml")
	envFile := flag.String("env-file", "", "an env file for interpolation (default: .env next to the first file, if any)")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: composecheck [-format json|yaml] [-env-file FILE] FILE...")
		os.Exit(2)
	}
	if err := run(flag.Args(), *format, *envFile); err != nil {
		fmt.Fprintln(os.Stderr, "composecheck:", err)
		os.Exit(1)
	}
}

func run(files []string, format, envFile string) error {
	options := []cli.ProjectOptionsFn{
		cli.WithWorkingDirectory(filepath.Dir(files[0])),
		cli.WithOsEnv,
		cli.WithDotEnv,
		cli.WithName("adopte"),
	}
	if envFile != "" {
		options = append([]cli.ProjectOptionsFn{cli.WithEnvFiles(envFile)}, options...)
	}
	projectOptions, err := cli.NewProjectOptions(files, options...)
	if err != nil {
		return err
	}
	project, err := projectOptions.LoadProject(context.Background())
	if err != nil {
		return err
	}
	var out []byte
	switch format {
	case "json":
		out, err = project.MarshalJSON()
	case "yaml":
		out, err = project.MarshalYAML()
	default:
		return fmt.Errorf("unknown format %q (json or yaml)", format)
	}
	if err != nil {
		return err
	}
	_, err = os.Stdout.Write(append(out, '\n'))
	return err
}
