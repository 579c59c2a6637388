"""The demo chain's stores and product range.

A few hand-written category leaves (brands, product stems, pack sizes, price band, shelf
life) are expanded into about two thousand SKUs. Popularity inside a leaf is Zipf-like, as
in real sales data where a handful of items carry most of the volume; the customer's taste
picks the department first (see ``DEPARTMENTS``), then the leaf, then the item.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from patron.catalog import StoreKind

# The departments a customer's Dirichlet taste is drawn over, with the chain-wide share of
# lines each gets on average.
DEPARTMENTS: tuple[str, ...] = ("生鲜", "粮油", "零食", "饮料", "日用", "数码", "家电", "玩具")
DEPARTMENT_SHARE = np.array([0.34, 0.11, 0.15, 0.14, 0.14, 0.04, 0.03, 0.05])

ZIPF_EXPONENT = 1.1


@dataclass(frozen=True, slots=True)
class DemoStore:
    code: str
    name: str
    city: str
    kind: StoreKind
    source: str
    open_hour: int
    close_hour: int
    traffic: float  # relative share of walk-in traffic among the physical stores


STORES: tuple[DemoStore, ...] = (
    DemoStore("SH01", "上海徐汇店", "上海", StoreKind.PHYSICAL, "pos-sh01", 8, 22, 1.3),
    DemoStore("SH02", "上海浦东店", "上海", StoreKind.PHYSICAL, "pos-sh02", 8, 22, 1.2),
    DemoStore("HZ01", "杭州西湖店", "杭州", StoreKind.PHYSICAL, "pos-hz01", 8, 22, 1.0),
    DemoStore("HZ02", "杭州滨江店", "杭州", StoreKind.PHYSICAL, "pos-hz02", 9, 22, 0.8),
    DemoStore("SZ01", "苏州工业园区店", "苏州", StoreKind.PHYSICAL, "pos-sz01", 8, 21, 0.9),
    DemoStore("SZ02", "苏州姑苏店", "苏州", StoreKind.PHYSICAL, "pos-sz02", 9, 21, 0.7),
    DemoStore("WEB", "线上商城", "上海", StoreKind.ONLINE, "online-shop", 0, 24, 0.0),
    DemoStore("MINI", "微信小程序商城", "上海", StoreKind.MINI_PROGRAM, "mini-program", 0, 24, 0.0),
)
PHYSICAL_STORES = tuple(s for s in STORES if s.kind == StoreKind.PHYSICAL)
ONLINE_STORE = next(s for s in STORES if s.kind == StoreKind.ONLINE)
MINI_STORE = next(s for s in STORES if s.kind == StoreKind.MINI_PROGRAM)
WECHAT_APPID = "wx5d3c0a1b2e4f6789"


@dataclass(frozen=True, slots=True)
class _Leaf:
    department: str
    path: str
    weighed: bool  # sold by the kilogram at a scale: 3-decimal quantities
    price_yuan: tuple[float, float]  # per piece, or per kg when weighed
    shelf_life_days: tuple[int, int] | None
    makers: tuple[str, ...]  # brands, or places of origin for loose fresh produce
    stems: tuple[str, ...]
    variants: tuple[str, ...]
    max_quantity: int = 4
    share: float = 1.0  # weight of the leaf inside its department


_F = "生鲜"
_LEAVES: tuple[_Leaf, ...] = (
    _Leaf(
        _F,
        "生鲜/水果/苹果",
        True,
        (8, 30),
        (20, 60),
        ("烟台", "阿克苏", "洛川", "静宁", "天水", "威海", "灵宝"),
        ("红富士苹果", "冰糖心苹果", "嘎啦苹果", "蛇果", "青苹果", "黄元帅苹果"),
        ("", "精选", "特级"),
        share=1.4,
    ),
    _Leaf(
        _F,
        "生鲜/水果/柑橘",
        True,
        (6, 25),
        (10, 30),
        ("赣南", "广西", "四川", "湖南", "云南", "浙江"),
        ("脐橙", "沃柑", "砂糖橘", "丑橘", "耙耙柑", "柠檬"),
        ("", "精选", "礼盒装"),
    ),
    _Leaf(
        _F,
        "生鲜/水果/热带水果",
        True,
        (5, 60),
        (4, 15),
        ("海南", "广东", "越南", "泰国", "菲律宾"),
        ("香蕉", "芒果", "菠萝", "火龙果", "金枕榴莲", "椰青"),
        ("", "精选"),
    ),
    _Leaf(
        _F,
        "生鲜/水果/浆果",
        True,
        (15, 120),
        (3, 10),
        ("丹东", "云南", "智利", "新疆", "山东"),
        ("草莓", "蓝莓", "阳光玫瑰葡萄", "车厘子", "巨峰葡萄"),
        ("", "精选", "礼盒装"),
    ),
    _Leaf(
        _F,
        "生鲜/蔬菜/叶菜",
        True,
        (4, 16),
        (2, 5),
        ("本地", "崇明", "山东", "云南", "有机农场"),
        ("上海青", "菠菜", "生菜", "娃娃菜", "空心菜", "油麦菜"),
        ("", "净菜"),
    ),
    _Leaf(
        _F,
        "生鲜/蔬菜/根茎",
        True,
        (3, 12),
        (7, 30),
        ("本地", "内蒙古", "甘肃", "山东", "河北"),
        ("土豆", "胡萝卜", "洋葱", "白萝卜", "铁棍山药", "莲藕"),
        ("", "精选"),
    ),
    _Leaf(
        _F,
        "生鲜/蔬菜/茄果",
        True,
        (5, 16),
        (4, 10),
        ("本地", "寿光", "海南", "云南"),
        ("西红柿", "黄瓜", "茄子", "青椒", "彩椒", "南瓜"),
        ("", "精选"),
        share=1.2,
    ),
    _Leaf(
        _F,
        "生鲜/肉禽/猪肉",
        True,
        (25, 70),
        (2, 4),
        ("双汇", "金锣", "雨润", "本地黑猪", "苏太"),
        ("五花肉", "猪里脊", "前腿肉", "肋排", "猪蹄", "肉馅"),
        ("", "冷鲜"),
        share=1.2,
    ),
    _Leaf(
        _F,
        "生鲜/肉禽/牛羊肉",
        True,
        (60, 180),
        (2, 5),
        ("科尔沁", "恒都", "小肥羊", "内蒙古", "澳洲进口"),
        ("牛腩", "牛里脊", "牛腱子", "羊排", "羊肉卷", "肥牛卷"),
        ("", "冷冻"),
    ),
    _Leaf(
        _F,
        "生鲜/肉禽/鸡鸭",
        True,
        (18, 45),
        (2, 4),
        ("圣农", "凤祥", "正大", "三黄鸡", "樱桃谷"),
        ("鸡胸肉", "鸡翅中", "琵琶腿", "整鸡", "鸭腿", "老母鸡"),
        ("", "冷鲜"),
    ),
    _Leaf(
        _F,
        "生鲜/水产/鱼虾蟹",
        True,
        (30, 200),
        (1, 3),
        ("舟山", "阳澄湖", "挪威", "湛江", "千岛湖"),
        ("鲈鱼", "带鱼", "三文鱼", "基围虾", "大闸蟹", "鲫鱼"),
        ("", "鲜活", "冰鲜"),
    ),
    _Leaf(
        _F,
        "生鲜/乳品/牛奶酸奶",
        False,
        (4, 80),
        (7, 21),
        ("光明", "蒙牛", "伊利", "君乐宝", "简爱", "卡士"),
        ("鲜牛奶", "纯牛奶", "原味酸奶", "低脂牛奶", "希腊酸奶", "有机纯牛奶"),
        ("200ml", "250ml×12", "950ml", "1L", "450g"),
        share=1.3,
    ),
    _Leaf(
        _F,
        "生鲜/烘焙/面包",
        False,
        (5, 40),
        (3, 7),
        ("桃李", "宾堡", "曼可顿", "巴黎贝甜", "门店现烤"),
        ("吐司", "全麦面包", "牛角包", "肉松面包", "蛋糕卷"),
        ("", "家庭装"),
    ),
    _Leaf(
        _F,
        "生鲜/蛋品/鸡蛋",
        False,
        (12, 60),
        (20, 45),
        ("德青源", "黄天鹅", "圣迪乐村", "咯咯哒"),
        ("鲜鸡蛋", "土鸡蛋", "可生食鸡蛋"),
        ("10枚", "15枚", "20枚", "30枚"),
    ),
    _Leaf(
        "粮油",
        "粮油/大米",
        False,
        (20, 150),
        (300, 365),
        ("金龙鱼", "福临门", "十月稻田", "柴火大院", "北大荒"),
        ("五常大米", "东北大米", "泰国香米", "长粒香米", "珍珠米"),
        ("2.5kg", "5kg", "10kg"),
        2,
    ),
    _Leaf(
        "粮油",
        "粮油/食用油",
        False,
        (25, 180),
        (365, 540),
        ("金龙鱼", "鲁花", "福临门", "胡姬花", "多力"),
        ("花生油", "大豆油", "菜籽油", "玉米油", "橄榄油", "葵花籽油"),
        ("900ml", "1.8L", "5L"),
        2,
    ),
    _Leaf(
        "粮油",
        "粮油/面粉挂面",
        False,
        (5, 60),
        (180, 365),
        ("香雪", "五得利", "陈克明", "金沙河", "想念"),
        ("高筋面粉", "中筋面粉", "挂面", "鸡蛋挂面", "荞麦面"),
        ("500g", "1kg", "2.5kg"),
    ),
    _Leaf(
        "粮油",
        "粮油/调味品",
        False,
        (5, 40),
        (365, 720),
        ("海天", "李锦记", "老干妈", "厨邦", "太太乐", "恒顺"),
        ("生抽", "老抽", "蚝油", "香醋", "鸡精", "辣椒酱", "料酒"),
        ("200g", "500ml", "1.28L"),
        share=1.5,
    ),
    _Leaf(
        "零食",
        "零食/饼干糕点",
        False,
        (5, 40),
        (180, 365),
        ("奥利奥", "好丽友", "达利园", "康师傅", "嘉士利", "徐福记"),
        ("夹心饼干", "苏打饼干", "巧克力派", "蛋黄派", "沙琪玛", "曲奇"),
        ("100g", "300g", "家庭装"),
    ),
    _Leaf(
        "零食",
        "零食/坚果炒货",
        False,
        (15, 120),
        (180, 270),
        ("三只松鼠", "良品铺子", "百草味", "洽洽", "沃隆"),
        ("每日坚果", "夏威夷果", "碧根果", "香瓜子", "开心果", "巴旦木"),
        ("150g", "500g", "礼盒装"),
    ),
    _Leaf(
        "零食",
        "零食/糖果巧克力",
        False,
        (5, 150),
        (270, 540),
        ("德芙", "费列罗", "大白兔", "士力架", "阿尔卑斯", "旺旺"),
        ("巧克力", "奶糖", "棒棒糖", "软糖", "威化"),
        ("单条", "袋装", "礼盒装"),
    ),
    _Leaf(
        "零食",
        "零食/膨化食品",
        False,
        (4, 20),
        (180, 270),
        ("乐事", "上好佳", "旺旺", "可比克", "品客"),
        ("原味薯片", "黄瓜味薯片", "鲜虾条", "仙贝", "雪饼", "玉米片"),
        ("40g", "75g", "家庭装"),
    ),
    _Leaf(
        "饮料",
        "饮料/饮用水",
        False,
        (1.5, 60),
        (365, 540),
        ("农夫山泉", "怡宝", "百岁山", "娃哈哈", "景田"),
        ("饮用天然水", "纯净水", "矿泉水", "苏打水"),
        ("550ml", "1.5L", "4L", "550ml×24"),
        6,
        share=1.3,
    ),
    _Leaf(
        "饮料",
        "饮料/碳酸饮料",
        False,
        (2.5, 70),
        (270, 365),
        ("可口可乐", "百事", "雪碧", "芬达", "元气森林"),
        ("可乐", "无糖可乐", "柠檬味汽水", "白桃气泡水"),
        ("330ml", "500ml", "2L", "330ml×24"),
        6,
    ),
    _Leaf(
        "饮料",
        "饮料/茶饮果汁",
        False,
        (3, 60),
        (180, 365),
        ("康师傅", "统一", "东方树叶", "三得利", "汇源", "味全"),
        ("冰红茶", "绿茶", "乌龙茶", "橙汁", "每日C果汁", "茉莉花茶"),
        ("500ml", "1L", "500ml×15"),
        6,
    ),
    _Leaf(
        "饮料",
        "饮料/酒类",
        False,
        (5, 600),
        (365, 3650),
        ("青岛", "雪花", "百威", "洋河", "泸州老窖", "张裕"),
        ("纯生啤酒", "精酿啤酒", "浓香型白酒", "干红葡萄酒", "绍兴黄酒"),
        ("500ml", "750ml", "500ml×12"),
        3,
    ),
    _Leaf(
        "日用",
        "日用/纸品",
        False,
        (8, 70),
        (1095, 1095),
        ("维达", "清风", "心相印", "洁柔", "得宝"),
        ("抽纸", "卷纸", "湿巾", "厨房纸", "手帕纸"),
        ("单包", "6包装", "24卷装"),
        share=1.3,
    ),
    _Leaf(
        "日用",
        "日用/清洁用品",
        False,
        (10, 90),
        (730, 1095),
        ("蓝月亮", "立白", "奥妙", "威露士", "超能", "汰渍"),
        ("洗衣液", "洗洁精", "消毒液", "洗衣凝珠", "地板清洁剂", "洁厕液"),
        ("500g", "1kg", "3kg"),
    ),
    _Leaf(
        "日用",
        "日用/个人护理",
        False,
        (8, 90),
        (730, 1095),
        ("舒肤佳", "海飞丝", "潘婷", "云南白药", "高露洁", "黑人", "佳洁士"),
        ("沐浴露", "洗发水", "牙膏", "牙刷", "香皂", "护发素"),
        ("100g", "400ml", "750ml"),
    ),
    _Leaf(
        "日用",
        "日用/厨房用品",
        False,
        (10, 400),
        None,
        ("苏泊尔", "爱仕达", "美厨", "双立人", "乐扣乐扣"),
        ("保鲜盒", "不粘锅", "菜刀", "砧板", "保鲜膜", "保温杯"),
        ("", "套装", "大号"),
        2,
        0.7,
    ),
    _Leaf(
        "数码",
        "数码/手机",
        False,
        (999, 8999),
        None,
        ("华为", "小米", "荣耀", "OPPO", "vivo", "苹果"),
        ("5G手机", "智能手机", "折叠屏手机"),
        ("8GB+256GB", "12GB+256GB", "12GB+512GB", "16GB+1TB"),
        1,
        0.5,
    ),
    _Leaf(
        "数码",
        "数码/耳机音箱",
        False,
        (99, 2999),
        None,
        ("华为", "小米", "漫步者", "索尼", "JBL", "苹果"),
        ("真无线蓝牙耳机", "头戴式耳机", "蓝牙音箱", "降噪耳机"),
        ("黑色", "白色", "蓝色"),
        1,
    ),
    _Leaf(
        "数码",
        "数码/充电配件",
        False,
        (19, 299),
        None,
        ("公牛", "绿联", "倍思", "小米", "Anker"),
        ("充电宝", "快充充电器", "数据线", "插线板", "无线充电板"),
        ("", "20W", "65W", "10000mAh"),
        2,
        1.6,
    ),
    _Leaf(
        "数码",
        "数码/平板电脑",
        False,
        (1299, 7999),
        None,
        ("华为", "小米", "联想", "苹果"),
        ("平板电脑", "学习平板"),
        ("128GB", "256GB", "512GB"),
        1,
        0.3,
    ),
    _Leaf(
        "家电",
        "家电/厨房电器",
        False,
        (79, 1299),
        None,
        ("美的", "九阳", "苏泊尔", "小熊", "摩飞"),
        ("电饭煲", "空气炸锅", "豆浆机", "电水壶", "破壁机", "微波炉"),
        ("", "家用", "大容量"),
        1,
        1.4,
    ),
    _Leaf(
        "家电",
        "家电/生活电器",
        False,
        (99, 4999),
        None,
        ("美的", "格力", "戴森", "小米", "飞利浦", "艾美特"),
        ("电风扇", "取暖器", "吸尘器", "扫地机器人", "加湿器", "空气净化器"),
        ("", "智能款"),
        1,
    ),
    _Leaf(
        "家电",
        "家电/个护电器",
        False,
        (69, 2999),
        None,
        ("飞利浦", "松下", "戴森", "博朗", "小米"),
        ("电吹风", "电动剃须刀", "电动牙刷", "卷发棒"),
        ("", "旅行款", "礼盒装"),
        1,
    ),
    _Leaf(
        "玩具",
        "玩具/积木拼插",
        False,
        (49, 1299),
        None,
        ("乐高", "布鲁可", "森宝", "启蒙"),
        ("积木套装", "城市系列积木", "机械组积木", "大颗粒积木"),
        ("小号", "中号", "豪华版"),
        2,
    ),
    _Leaf(
        "玩具",
        "玩具/毛绒玩具",
        False,
        (29, 399),
        None,
        ("Jellycat", "迪士尼", "名创优品", "泡泡玛特"),
        ("毛绒熊", "兔子公仔", "抱枕玩偶", "恐龙公仔"),
        ("20cm", "35cm", "60cm"),
        2,
    ),
    _Leaf(
        "玩具",
        "玩具/益智玩具",
        False,
        (29, 499),
        None,
        ("贝恩施", "可优比", "澳贝", "费雪", "得力"),
        ("拼图", "早教机", "磁力片", "过家家玩具", "遥控车"),
        ("", "套装", "豪华版"),
        2,
    ),
    _Leaf(
        "玩具",
        "玩具/潮玩盲盒",
        False,
        (39, 599),
        None,
        ("泡泡玛特", "52TOYS", "名创优品", "TOP TOY"),
        ("盲盒", "手办", "潮玩摆件"),
        ("单盒", "整盒"),
        3,
    ),
)


@dataclass(frozen=True, slots=True)
class Catalogue:
    """The product range as parallel arrays, so baskets are drawn with numpy."""

    sku: list[str]
    name: list[str]
    category_path: list[str]
    brand: list[str | None]
    price_fen: np.ndarray  # per piece, or per kg when weighed
    shelf_life_days: list[int | None]
    weighed: np.ndarray  # bool
    max_quantity: np.ndarray
    department: np.ndarray  # index into DEPARTMENTS
    # Cumulative popularity per department: draw u, searchsorted into it.
    department_products: tuple[np.ndarray, ...]
    department_cumulative: tuple[np.ndarray, ...]

    def __len__(self) -> int:
        return len(self.sku)


def _ean13(body12: int) -> str:
    digits = f"{body12:012d}"
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(digits))
    return digits + str((10 - total % 10) % 10)


def _retail_price(rng: np.random.Generator, lo: float, hi: float, n: int) -> np.ndarray:
    """Log-uniform prices with the endings shops use: ¥x.90 under ¥100, ¥x9 above."""
    yuan = np.exp(rng.uniform(np.log(lo), np.log(hi), n))
    fen = np.where(
        yuan < 100,
        np.maximum(np.round(yuan * 10) * 10 - 10, 90),
        (np.round(yuan / 10) * 10 - 1) * 100,
    )
    return fen.astype(np.int64)


def build_catalogue(*, rng: np.random.Generator, products: int = 2000) -> Catalogue:
    """About ``products`` SKUs spread over the leaves by their share of the range."""
    leaf_share = np.array([leaf.share for leaf in _LEAVES])
    counts = np.maximum(np.round(products * leaf_share / leaf_share.sum()).astype(int), 3)
    sku: list[str] = []
    name: list[str] = []
    path: list[str] = []
    brand: list[str | None] = []
    shelf: list[int | None] = []
    prices: list[np.ndarray] = []
    weighed: list[bool] = []
    max_qty: list[int] = []
    dept: list[int] = []
    leaf_of: list[int] = []
    for leaf_no, (leaf, wanted) in enumerate(zip(_LEAVES, counts, strict=True)):
        combos = [(m, s, v) for m in leaf.makers for s in leaf.stems for v in leaf.variants]
        n = min(int(wanted), len(combos))
        picked = rng.choice(len(combos), size=n, replace=False)
        prices.append(_retail_price(rng, *leaf.price_yuan, n))
        if leaf.shelf_life_days is None:
            lives: list[int | None] = [None] * n
        else:
            lives = [
                int(x)
                for x in rng.integers(leaf.shelf_life_days[0], leaf.shelf_life_days[1] + 1, n)
            ]
        for k, idx in enumerate(picked):
            maker, stem, variant = combos[int(idx)]
            number = len(sku) + 1
            if leaf.weighed:
                # Loose produce carries a scale PLU code, not a barcode.
                sku.append(f"F{number:06d}")
                label = f"{variant}{maker}{stem}".strip()
                brand.append(None)
            else:
                sku.append(_ean13(690_000_000_000 + number * 7919 % 1_000_000_000))
                label = f"{maker}{stem}{' ' + variant if variant else ''}"
                brand.append(maker)
            name.append(label)
            path.append(leaf.path)
            shelf.append(lives[k])
            weighed.append(leaf.weighed)
            max_qty.append(leaf.max_quantity)
            dept.append(DEPARTMENTS.index(leaf.department))
            leaf_of.append(leaf_no)
    price = np.concatenate(prices)
    department = np.array(dept)
    leaf_arr = np.array(leaf_of)
    # Popularity: the leaf's share of its department, times a Zipf weight by a random rank.
    popularity = np.zeros(len(sku))
    for leaf_no, leaf in enumerate(_LEAVES):
        members = np.flatnonzero(leaf_arr == leaf_no)
        ranks = rng.permutation(len(members)) + 1
        zipf = 1.0 / ranks**ZIPF_EXPONENT
        popularity[members] = leaf.share * zipf / zipf.sum()
    dept_products = []
    dept_cum = []
    for d in range(len(DEPARTMENTS)):
        members = np.flatnonzero(department == d)
        weights = popularity[members]
        dept_products.append(members)
        dept_cum.append(np.cumsum(weights) / weights.sum())
    return Catalogue(
        sku=sku,
        name=name,
        category_path=path,
        brand=brand,
        price_fen=price,
        shelf_life_days=shelf,
        weighed=np.array(weighed),
        max_quantity=np.array(max_qty),
        department=department,
        department_products=tuple(dept_products),
        department_cumulative=tuple(dept_cum),
    )
