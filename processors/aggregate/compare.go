package aggregate

import "github.com/sightline-dev/sightline/processors/window"

// compare runs the A/B comparison of a treatment window against its
// control window. window.Compare is not in yet; until it lands this
// produces no A/B rows.
func compare(control, treatment *window.Partial, cfg window.Config) []window.Signal {
	return nil
}
