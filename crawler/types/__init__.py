"""The source types' declarations: per type, its options model and `SOURCE_TYPE`, without Scrapy.

Each module here is what `crawler.registry` reads to validate a source of its type; the type's
spider (`crawler/spiders/<type>.py`) is imported only when a source of that type is crawled.
"""
