"""Stage 1: turn boards into normalised postings plus a crawl verdict (Scrapy spiders, one per type)."""
