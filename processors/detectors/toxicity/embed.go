package toxicity

import (
	_ "embed"
	"sync"

	"github.com/sightline-dev/sightline/processors/detectors/internal/hashing"
)

// Retrain the shipped model from the dev data (see doc.go for the figures):
//
//go:generate go run ./internal/train -data ../../../../shared/data/toxicity.dev.jsonl -out model.bin.gz

//go:embed model.bin.gz
var embedded []byte

var defaultModel = sync.OnceValue(func() *Model { return newModel(hashing.LoadEmbedded(embedded, magic, "toxicity")) })

// Default returns the model embedded in the binary, trained on the dev data
// with DefaultTrainConfig. It is loaded once, on first use.
func Default() *Model { return defaultModel() }
