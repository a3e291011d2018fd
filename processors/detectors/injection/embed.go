package injection

import (
	_ "embed"
	"sync"

	"github.com/sightline-dev/sightline/processors/detectors/internal/hashing"
)

// Retrain the shipped model from the dev data plus Augmentation():
//
//go:generate go run ./internal/train -data ../../../../shared/data/prompt_injection.dev.jsonl -out model.bin.gz

//go:embed model.bin.gz
var embedded []byte

var defaultModel = sync.OnceValue(func() *Model { return newModel(hashing.LoadEmbedded(embedded, magic, "injection")) })

// Default returns the model embedded in the binary. It is loaded once, on
// first use.
func Default() *Model { return defaultModel() }
