// Command train retrains the toxicity model embedded in the toxicity package:
//
//	go generate ./processors/detectors/toxicity
//
// It is what `sightline train toxicity` runs, kept here so the shipped model
// can be rebuilt without the CLI.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/sightline-dev/sightline/processors/detectors/toxicity"
)

func main() {
	data := flag.String("data", "", "labeled JSONL data (id, text, label, source)")
	out := flag.String("out", "model.bin.gz", "model file to write")
	flag.Parse()
	if *data == "" {
		fmt.Fprintln(os.Stderr, "train: -data is required")
		os.Exit(2)
	}
	logf := func(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }
	if err := toxicity.TrainFile(*data, *out, logf); err != nil {
		fmt.Fprintln(os.Stderr, "train:", err)
		os.Exit(1)
	}
}
