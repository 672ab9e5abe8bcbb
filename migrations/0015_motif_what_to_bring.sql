-- What a citizen must bring, per site and motif, as the site's administrators write it (plain
-- text, one item per line). NULL: the default list of the domain rules for that motif.
ALTER TABLE site_motifs ADD COLUMN what_to_bring text
    CHECK (what_to_bring IS NULL OR char_length(what_to_bring) <= 2000);
