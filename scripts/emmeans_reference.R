# R's answers for pylmer's emmeans, contrast and ls_means tests
# (tests/test_inference_emmeans.py).
# Run from the project root: Rscript scripts/emmeans_reference.R
# Needs lme4, lmerTest, pbkrtest, emmeans, jsonlite. Writes tests/reference/emmeans/cases.json.
suppressMessages({library(lme4); library(lmerTest); library(emmeans); library(jsonlite)})
data_dir <- "tests/reference/diagnostics/data"
load_data <- function(name) {
  d <- read.csv(file.path(data_dir, paste0(name, ".csv")), stringsAsFactors = FALSE)
  cols <- fromJSON(file.path(data_dir, paste0(name, ".columns.json")))$columns
  for (c in names(cols)) if (cols[[c]]$type == "factor")
    d[[c]] <- factor(as.character(d[[c]]), levels = cols[[c]]$levels)
  d
}
Oats <- load_data("Oats"); Oats_unbal <- load_data("Oats_unbal")
cbpp <- load_data("cbpp"); grouseticks <- load_data("grouseticks")
sleepstudy <- load_data("sleepstudy")
Oats$high <- as.numeric(Oats$nitro > 0.3)

table_of <- function(x) {
  x <- as.data.frame(x)
  num <- vapply(x, is.numeric, TRUE)
  list(keys = lapply(x[!num], as.character), colnames = names(x)[num],
       values = unname(lapply(seq_len(nrow(x)), function(i) unname(unlist(x[i, num])))),
       rownames = rownames(x))
}
cases <- list()
add <- function(id, code) {
  result <- eval(parse(text = code))
  cases[[id]] <<- c(list(id = id, r_code = code), table_of(result))
}
lm_oats <- lmer(yield ~ Variety + nF + (1 | Block/Variety), data = Oats)
lm_oats_ml <- lmer(yield ~ Variety + nF + (1 | Block/Variety), data = Oats, REML = FALSE)
lm_unbal <- lmer(yield ~ Variety * nF + (1 | Block/Variety), data = Oats_unbal)
lm_nitro <- lmer(yield ~ Variety + nitro + I(nitro^2) + (1 | Block), data = Oats)
lm_high <- lmer(yield ~ Variety + high + (1 | Block), data = Oats)
lm_sleep <- lmer(Reaction ~ Days + (Days | Subject), data = sleepstudy)
gm_cbpp <- glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), data = cbpp,
                 family = binomial)
gm_ticks <- glmer(TICKS ~ YEAR + cHEIGHT + (1 | BROOD), data = grouseticks, family = poisson)

add("oats_nF_satterthwaite", "emmeans(lm_oats, ~ nF, lmer.df = 'satterthwaite')")
add("oats_nF_asymptotic", "emmeans(lm_oats, ~ nF, lmer.df = 'asymptotic')")
add("oats_variety_ml_kr", "emmeans(lm_oats_ml, ~ Variety)")
add("oats_nF_level90", "emmeans(lm_oats, ~ nF, level = 0.9)")
add("oats_poly", "contrast(emmeans(lm_oats, ~ nF), 'poly')")
add("oats_trt_vs_ctrl", "contrast(emmeans(lm_oats, ~ nF), 'trt.vs.ctrl')")
add("oats_trt_vs_ctrl_ref3", "contrast(emmeans(lm_oats, ~ nF), 'trt.vs.ctrl', ref = 3)")
add("oats_pairwise_holm", "pairs(emmeans(lm_oats, ~ nF), adjust = 'holm')")
add("oats_pairwise_bonferroni", "pairs(emmeans(lm_oats, ~ nF), adjust = 'bonferroni')")
add("oats_pairwise_scheffe", "pairs(emmeans(lm_oats, ~ nF), adjust = 'scheffe')")
add("oats_pairwise_sidak", "pairs(emmeans(lm_oats, ~ nF), adjust = 'sidak')")
add("oats_pairwise_BH", "pairs(emmeans(lm_oats, ~ nF), adjust = 'BH')")
add("oats_pairwise_hommel", "pairs(emmeans(lm_oats, ~ nF), adjust = 'hommel')")
add("oats_revpairwise", "contrast(emmeans(lm_oats, ~ nF), 'revpairwise')")
add("oats_consec_none", "contrast(emmeans(lm_oats, ~ nF), 'consec', adjust = 'none')")
add("oats_eff", "contrast(emmeans(lm_oats, ~ nF), 'eff')")
add("unbal_two_specs", "emmeans(lm_unbal, ~ Variety * nF)")
add("unbal_variety_by_nF_pairs", "pairs(emmeans(lm_unbal, ~ Variety | nF))")
add("unbal_pairs_collapsed_by", "pairs(emmeans(lm_unbal, ~ nF | Variety), by = NULL, adjust = 'none')")
add("unbal_weights_proportional", "emmeans(lm_unbal, ~ nF, weights = 'proportional')")
add("unbal_weights_cells", "emmeans(lm_unbal, ~ nF, weights = 'cells')")
add("nitro_poly_covariate", "emmeans(lm_nitro, ~ Variety)")
add("nitro_at", "emmeans(lm_nitro, ~ Variety, at = list(nitro = c(0, 0.6)))")
add("nitro_at_by", "emmeans(lm_nitro, ~ nitro | Variety, at = list(nitro = c(0, 0.6)))")
add("high_two_values", "emmeans(lm_high, ~ Variety)")
add("high_as_spec", "emmeans(lm_high, ~ high)")
add("sleep_days_at", "emmeans(lm_sleep, ~ Days, at = list(Days = c(0, 4.5, 9)))")
add("cbpp_link", "emmeans(gm_cbpp, ~ period)")
add("cbpp_pairs_response", "pairs(emmeans(gm_cbpp, ~ period, type = 'response'))")
add("ticks_rate", "emmeans(gm_ticks, ~ YEAR, type = 'response')")
add("ticks_ratio", "pairs(emmeans(gm_ticks, ~ YEAR, type = 'response'))")
add("ticks_trt_vs_ctrl", "contrast(emmeans(gm_ticks, ~ YEAR), 'trt.vs.ctrl')")
lt_unbal <- lmerTest::lmer(yield ~ Variety * nF + (1 | Block/Variety), data = Oats_unbal)
add("ls_means_unbal", "ls_means(lt_unbal)")
add("ls_means_unbal_kr", "ls_means(lt_unbal, ddf = 'Kenward-Roger')")
add("ls_means_unbal_pairwise", "ls_means(lt_unbal, which = 'nF', pairwise = TRUE)")
add("difflsmeans_variety", "difflsmeans(lt_unbal, which = 'Variety', level = 0.9)")
out <- list(versions = list(R = as.character(getRversion()),
                            lme4 = as.character(packageVersion("lme4")),
                            lmerTest = as.character(packageVersion("lmerTest")),
                            pbkrtest = as.character(packageVersion("pbkrtest")),
                            emmeans = as.character(packageVersion("emmeans"))),
            cases = cases)
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, null = "null", na = "null", pretty = TRUE),
           "tests/reference/emmeans/cases.json")
