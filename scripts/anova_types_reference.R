# Reference values for pylmer's lmerTest-style anova(m, type, ddf)
# (pylmer/inference/lmertest_anova.py, lmertest_contrasts.py).
#
# Writes tests/reference/anova_types/<id>.json: for each model, lmerTest 3.1-3's
# anova(m, type = 1 | 2 | 3, ddf = "Satterthwaite" | "Kenward-Roger") and
# anova(m, ddf = "lme4") (numbers and print()ed text), with the hypothesis matrices
# (show_tests) of each type.
#
# Run from the repository root:  Rscript scripts/anova_types_reference.R
#
# The data are read from the CSV files the tests read (factor levels from the
# .columns.json next to each), so R and pylmer see the same bits. Numbers are written
# with 17 significant digits (sprintf("%.17g"), which parses back to the same double);
# NA -> null. Matrices are arrays of rows.

suppressPackageStartupMessages({
  library(lmerTest)
  library(jsonlite)
})

fmt <- function(v) {
  v <- as.numeric(v)
  ifelse(is.na(v), "null", sprintf("%.17g", v))
}
num <- function(v) structure(paste0("[", paste(fmt(v), collapse = ","), "]"), class = "json")
mat <- function(m) {
  m <- as.matrix(m)
  rows <- vapply(seq_len(nrow(m)), function(i) paste0("[", paste(fmt(m[i, ]), collapse = ","), "]"),
                 character(1))
  structure(paste0("[", paste(rows, collapse = ","), "]"), class = "json")
}

read_data <- function(csv) {
  meta <- fromJSON(sub("\\.csv$", ".columns.json", csv), simplifyVector = TRUE)
  raw <- read.csv(csv, colClasses = "character", na.strings = "NA")
  for (col in names(meta$columns)) {
    m <- meta$columns[[col]]
    raw[[col]] <- switch(m$type,
      factor = factor(raw[[col]], levels = m$levels),
      ordered = factor(raw[[col]], levels = m$levels, ordered = TRUE),
      integer = as.integer(raw[[col]]),
      numeric = as.numeric(raw[[col]]),
      raw[[col]])
  }
  raw
}

table_json <- function(tab) {
  printed <- paste(capture.output(print(tab)), collapse = "\n")
  tab <- as.data.frame(tab)
  list(heading = attr(tab, "heading"),
       rownames = I(rownames(tab)),
       colnames = colnames(tab),
       values = mat(as.matrix(tab)),
       printed = printed)
}

cases <- list(
  list(id = "oats_unbal_factors", dataset = "Oats_unbal",
       csv = "tests/reference/diagnostics/data/Oats_unbal.csv",
       formula = "yield ~ Variety * nF + (1 | Block/Variety)",
       what = "unbalanced split plot, two crossed factors (type I != II != III)"),
  list(id = "oats_unbal_covariate", dataset = "Oats_unbal",
       csv = "tests/reference/diagnostics/data/Oats_unbal.csv",
       formula = "yield ~ Variety * nitro + (1 | Block/Variety)",
       what = "a factor interacting with a numeric covariate: Variety is contained in no term"),
  list(id = "sleepstudy_slope", dataset = "sleepstudy",
       csv = "tests/reference/diagnostics/data/sleepstudy.csv",
       formula = "Reaction ~ Days + (Days | Subject)",
       what = "one numeric term: every type is type I"),
  list(id = "cake_ordered", dataset = "cake",
       csv = "pylmer/datasets/data/cake.csv",
       formula = "angle ~ recipe * temperature + (1 | recipe:replicate)",
       what = "an ordered factor (contr.poly): type III mapped from treatment coding")
)

dir.create("tests/reference/anova_types", showWarnings = FALSE, recursive = TRUE)
versions <- lapply(c("lme4", "lmerTest", "pbkrtest", "Matrix", "numDeriv"),
                   function(p) as.character(packageVersion(p)))
names(versions) <- c("lme4", "lmerTest", "pbkrtest", "Matrix", "numDeriv")
versions$R <- R.version.string

for (case in cases) {
  data <- read_data(case$csv)
  m <- lmer(as.formula(case$formula), data = data)
  tables <- list()
  hypotheses <- list()
  for (type in 1:3) {
    for (ddf in c("Satterthwaite", "Kenward-Roger")) {
      a <- anova(m, type = type, ddf = ddf)
      tables[[paste0("type", type, "_", ddf)]] <- table_json(a)
    }
    h <- show_tests(anova(m, type = type))
    hypotheses[[as.character(type)]] <- lapply(h, function(L) list(
      colnames = colnames(L), values = mat(L)))
  }
  tables[["lme4"]] <- table_json(anova(m, ddf = "lme4"))
  out <- list(
    id = case$id, what = case$what, dataset = case$dataset, data_file = case$csv,
    formula = case$formula, REML = TRUE,
    r_code = sprintf("m <- lmerTest::lmer(%s, data = %s); anova(m, type = 1|2|3, ddf = \"Satterthwaite\"|\"Kenward-Roger\"); anova(m, ddf = \"lme4\")",
                     case$formula, case$dataset),
    theta = num(getME(m, "theta")), sigma = num(sigma(m)),
    tables = tables, hypotheses = hypotheses,
    versions = versions, generated = format(Sys.time(), tz = "UTC", usetz = TRUE))
  writeLines(toJSON(out, auto_unbox = TRUE, pretty = TRUE, json_verbatim = TRUE, null = "null"),
             file.path("tests/reference/anova_types", paste0(case$id, ".json")))
  cat("wrote", case$id, "\n")
}
