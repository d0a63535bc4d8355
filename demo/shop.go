// Package demo is `eddy demo`: a web shop's click tracking end to end. A
// generator posts e-commerce clicks to the HTTP gateway as a shop's
// backend would; a stream processor built with package stream counts
// product popularity and purchases in sliding windows and flags unusual
// bursts; a dashboard page (static/, served at /demo/) shows top
// products, clicks per second and recent purchases live from the
// processor's output topics.
package demo

// Topics the demo uses.
const (
	ClicksTopic    = "demo-clicks"         // input: one record per click, keyed by user
	StatsTopic     = "demo-product-stats"  // output: per product, sliding-window counts
	RateTopic      = "demo-clicks-per-sec" // output: clicks per one-second window
	PurchasesTopic = "demo-purchases"      // output: purchases with their price
	AppID          = "demo-popularity"     // the processor's application id (its group)
)

// Click is what the shop posts for every page view, add-to-cart and
// purchase.
type Click struct {
	User    string  `json:"user"`
	Product string  `json:"product"`
	Action  string  `json:"action"` // "view", "cart" or "purchase"
	Price   float64 `json:"price"`
	Time    int64   `json:"time"` // ms since the epoch
}

// Product is one item of the demo catalogue.
type Product struct {
	ID    string  `json:"id"`
	Name  string  `json:"name"`
	Price float64 `json:"price"`
}

// Catalogue is what the demo shop sells.
var Catalogue = []Product{
	{"p-espresso", "Espresso machine", 349},
	{"p-grinder", "Burr grinder", 129},
	{"p-kettle", "Gooseneck kettle", 59},
	{"p-beans", "Single-origin beans", 16},
	{"p-mug", "Stoneware mug", 14},
	{"p-scale", "Brew scale", 39},
	{"p-dripper", "Pour-over dripper", 24},
	{"p-filters", "Paper filters", 6},
	{"p-tamper", "Steel tamper", 29},
	{"p-frother", "Milk frother", 89},
	{"p-press", "French press", 35},
	{"p-tin", "Airtight tin", 19},
}

func productName(id string) string {
	for _, p := range Catalogue {
		if p.ID == id {
			return p.Name
		}
	}
	return id
}
