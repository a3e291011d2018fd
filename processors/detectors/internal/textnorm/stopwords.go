package textnorm

// stopwords are English function words: articles, pronouns, auxiliaries,
// prepositions, conjunctions, plus answer fillers ("yes", "also") that carry
// no checkable claim.
var stopwords = []string{
	"a", "about", "above", "after", "again", "against", "all", "also", "am", "an", "and", "any",
	"are", "as", "at", "be", "because", "been", "before", "being", "below", "between", "both", "but",
	"by", "can", "could", "d", "did", "do", "does", "doing", "don", "down", "during", "each",
	"either", "else", "ever", "few", "for", "from", "further", "had", "has", "have", "having", "he",
	"her", "here", "hers", "herself", "him", "himself", "his", "how", "however", "i", "if", "in",
	"into", "is", "it", "its", "itself", "just", "ll", "m", "may", "me", "might", "more", "most",
	"much", "must", "my", "myself", "neither", "nor", "not", "now", "o", "of", "off", "on", "once",
	"only", "or", "other", "our", "ours", "ourselves", "out", "over", "own", "re", "s", "same",
	"shall", "she", "should", "so", "some", "such", "t", "than", "that", "the", "their", "theirs",
	"them", "themselves", "then", "there", "these", "they", "this", "those", "through", "thus", "to",
	"too", "under", "until", "up", "upon", "us", "ve", "very", "was", "we", "were", "what", "when",
	"where", "whereas", "which", "while", "who", "whom", "whose", "why", "will", "with", "within",
	"would", "yes", "yet", "you", "your", "yours", "yourself", "yourselves", "no", "nothing",
	"anything", "something", "there's", "it's", "isn", "wasn", "aren", "weren", "didn", "doesn",
	"won", "wouldn", "couldn", "shouldn", "hasn", "haven", "hadn", "let", "well", "though",
	"although", "since", "via", "per", "among", "across", "around", "whether",
}
