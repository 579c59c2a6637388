# Writes the arules reference rules beside this file (see README.md). Run from this folder:
#   Rscript make_reference.R /path/to/groceries.csv
library(arules)
args <- commandArgs(trailingOnly = TRUE)
tr <- read.transactions(args[[1]], format = "basket", sep = ",")
dump <- function(r, file) {
  q <- quality(r)
  lhs <- sapply(as(lhs(r), "list"), function(x) paste(sort(x), collapse = "|"))
  rhs <- sapply(as(rhs(r), "list"), function(x) paste(x, collapse = "|"))
  out <- data.frame(lhs = lhs, rhs = rhs, count = q$count,
                    support = sprintf("%.17g", q$support),
                    confidence = sprintf("%.17g", q$confidence),
                    lift = sprintf("%.17g", q$lift))
  write.csv(out[order(out$lhs, out$rhs), ], file, row.names = FALSE)
}
dump(apriori(tr, parameter = list(support = 0.001, confidence = 0.8, maxlen = 10)),
     "groceries_s0.001_c0.8.csv")
dump(apriori(tr, parameter = list(support = 0.006, confidence = 0.25, minlen = 2, maxlen = 10)),
     "groceries_s0.006_c0.25_minlen2.csv")
