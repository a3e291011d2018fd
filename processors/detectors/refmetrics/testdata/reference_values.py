# Computes the expected values in refmetrics_test.go once; run with Debian's
# python3-nltk 3.8:  /usr/bin/python3 testdata/reference_values.py
# BLEU comes from NLTK; ROUGE-L and SQuAD F1/EM from the plain definitions
# below (LCS by the textbook dynamic program; SQuAD normalization as in the
# SQuAD 2.0 evaluation script: lower, drop string.punctuation, drop \b(a|an|the)\b,
# split on white space).
import re, string, collections, json
from nltk.translate.bleu_score import sentence_bleu, SmoothingFunction

CASES = [
    ("the cat sat on the mat", "the cat sat on the mat"),
    ("the cat is on the mat", "there is a cat on the mat"),
    ("a quick brown fox", "the quick brown fox jumps over the lazy dog"),
    ("hello world", "goodbye moon"),
    ("Paris is the capital of France.", "The capital of France is Paris."),
    ("It first aired in September 2006, on Nickelodeon.", "The series first aired on Nickelodeon in September 2006."),
    ("The answer is 1,000 people!", "1000 people"),
]

def toks(s):  # textnorm.Plain: lower case, split on non-alphanumerics
    return re.findall(r"[a-z0-9]+", s.lower())

def lcs(a, b):
    t = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a)):
        for j in range(len(b)):
            t[i+1][j+1] = t[i][j] + 1 if a[i] == b[j] else max(t[i][j+1], t[i+1][j])
    return t[-1][-1]

def rouge_l(c, r):
    c, r = toks(c), toks(r)
    l = lcs(c, r)
    if l == 0: return 0.0
    p, q = l / len(c), l / len(r)
    return 2 * p * q / (p + q)

def squad_norm(s):
    s = s.lower()
    s = "".join(ch for ch in s if ch not in set(string.punctuation))
    s = re.sub(r"\b(a|an|the)\b", " ", s)
    return " ".join(s.split())

def f1(c, r):
    ct, rt = squad_norm(c).split(), squad_norm(r).split()
    if not ct or not rt: return float(ct == rt)
    common = sum((collections.Counter(ct) & collections.Counter(rt)).values())
    if common == 0: return 0.0
    p, q = common / len(ct), common / len(rt)
    return 2 * p * q / (p + q)

for c, r in CASES:
    bleu = sentence_bleu([toks(r)], toks(c), smoothing_function=SmoothingFunction().method1)
    print('{%s, %s, %.10f, %.10f, %.10f, %d},' % (json.dumps(c), json.dumps(r), rouge_l(c, r), bleu, f1(c, r), squad_norm(c) == squad_norm(r)))
