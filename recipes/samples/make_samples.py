"""Write the demo's small sample inputs (our own text; no third-party data).

Run: python recipes/samples/make_samples.py  (the files are committed; this shows how they were made)
Each file plants what the cleaning stages should find: Traditional script, English rows,
exact and near duplicates, "as an AI" replies, a malformed line, a record missing a field,
a conversation ending on the user, and questions that leak from the demo eval set.
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).parent

QA = [
    ("介绍一下长城的历史。", "长城始建于春秋战国时期，秦始皇统一六国后把各国长城连接起来。明朝对长城进行了大规模修筑，今天看到的大部分城墙都是明长城。"),
    ("如何提高睡眠质量？", "保持规律作息，睡前一小时不看手机；卧室保持安静、黑暗和凉爽；下午以后少喝咖啡和浓茶；白天适量运动也有助于入睡。"),
    ("解释一下什么是光合作用。", "光合作用是绿色植物利用光能，把二氧化碳和水转化为葡萄糖等有机物并释放氧气的过程，主要在叶绿体中进行。"),
    ("写一首关于春天的四行短诗。", "春风拂过柳梢头，\n细雨轻敲小木楼。\n桃花映水红似火，\n燕子归来绕田畴。"),
    ("列出三种常见的编程语言及其用途。", "1. Python：数据分析、机器学习和脚本。\n2. JavaScript：网页前端和服务器端开发。\n3. Java：企业级后端和安卓应用。"),
    ("把下面的句子翻译成英文：今天天气很好。", "The weather is very nice today."),
    ("怎样做番茄炒鸡蛋？", "先把鸡蛋打散炒至半熟盛出；再炒切块的番茄，出汁后加入鸡蛋翻炒，最后加盐和少许糖调味即可。"),
    ("为什么天空是蓝色的？", "阳光进入大气层后，波长较短的蓝光比红光更容易被空气分子散射，所以我们看到的天空呈现蓝色。"),
    ("给出三个学习外语的建议。", "第一，每天坚持听说读写各练一点；第二，用外语记日记；第三，找语伴或参加语言交换活动，多开口交流。"),
    ("总结一下水循环的主要环节。", "水循环包括蒸发、水汽输送、凝结成云、降水以及地表径流和地下径流等环节，使水在海洋、大气和陆地之间不断循环。"),
    ("解释什么是通货膨胀。", "通货膨胀是指一段时间内物价总水平持续上涨、货币购买力下降的现象，通常用居民消费价格指数来衡量。"),
    ("推荐几本适合初学者的历史书。", "可以从《明朝那些事儿》《人类简史》和《万历十五年》读起，它们叙述生动，适合入门。"),
    ("如何缓解工作压力？", "合理安排任务优先级，适当休息和运动，与同事或朋友沟通倾诉，必要时寻求专业心理咨询。"),
    ("简述牛顿第一定律。", "牛顿第一定律又称惯性定律：任何物体在不受外力或所受合力为零时，总保持静止或匀速直线运动状态。"),
    ("写一段欢迎新同事的话。", "欢迎你加入我们的团队！希望你在这里工作愉快，有任何问题都可以随时找大家帮忙，我们一起进步。"),
    ("比较一下猫和狗作为宠物的优缺点。", "猫比较独立，适合忙碌的人，但不太黏人；狗忠诚活泼，需要每天遛弯和更多陪伴，适合有时间的人。"),
    ("解释区块链的基本原理。", "区块链把交易记录打包成区块，按时间顺序用哈希值首尾相连，并由网络中的多个节点共同验证和保存，因此难以篡改。"),
    ("给出一个健康早餐的搭配。", "一杯牛奶或豆浆，一个鸡蛋，一片全麦面包，再加一份水果，比如苹果或香蕉。"),
    ("什么是可再生能源？", "可再生能源是可以不断再生、取之不尽的能源，例如太阳能、风能、水能、生物质能和地热能。"),
    ("如何养成阅读习惯？", "每天固定一个时间读书，从感兴趣的书开始，随身带一本书，读完写几句感想，坚持下来就会形成习惯。"),
]

BELLE_QA = [
    ("用三句话介绍一下熊猫。", "大熊猫是中国特有的珍稀动物。它们主要以竹子为食。大熊猫性情温和，深受人们喜爱。"),
    ("给出几个节约用水的方法。", "洗菜水可以用来浇花；刷牙时关掉水龙头；使用节水型马桶和淋浴喷头；及时修理漏水的管道。"),
    ("什么是二十四节气？", "二十四节气是中国古代根据太阳在黄道上的位置划分的时令，用来指导农事，例如立春、清明、夏至和冬至。"),
    ("怎样写好一篇读后感？", "先简要概括书的内容，再写最打动自己的地方，联系自己的经历谈感受，最后总结收获。"),
    ("解释一下什么是复利。", "复利是指把每期的利息加入本金，下一期连同本金一起计算利息，也就是常说的利滚利。"),
    ("推荐几种适合冬天吃的食物。", "冬天可以多吃羊肉、萝卜、红薯和各种热汤，既能补充能量，又能暖身。"),
    ("小学生如何安排暑假？", "每天留出固定时间完成作业和阅读，安排户外运动和兴趣活动，也要保证充足的睡眠。"),
    ("描述一下秋天的景色。", "秋天天高云淡，树叶由绿变黄，田野里一片金黄，果园里挂满了成熟的果子。"),
    ("如何向别人道歉？", "真诚地承认自己的错误，说明会如何改正，并尊重对方的感受，不找借口。"),
]

ENGLISH = [
    ("Give me three tips for staying focused.", "Remove distractions, work in short timed blocks, and take regular breaks."),
    ("What is the capital of France?", "The capital of France is Paris."),
]

AI_REPLY = ("你能告诉我你的真实感受吗？", "作为一个AI语言模型，我没有真实的感受，但我可以帮你分析问题。")

DIALOGUES = [
    [("你好", "你好！有什么可以帮你的吗？"), ("帮我想一个周末活动。", "可以去郊外徒步，呼吸新鲜空气，也可以约朋友一起去博物馆。")],
    [("我想学做饭，从哪里开始？", "可以先从简单的家常菜开始，比如番茄炒蛋、清炒时蔬。"), ("需要准备什么工具？", "一口炒锅、一把菜刀、一块砧板和几个碗盘就够了。"), ("谢谢！", "不客气，祝你做饭愉快！")],
    [("推荐一部适合全家看的电影。", "《寻梦环游记》很适合全家一起看，故事温暖，也讲了家人之间的爱。"), ("还有别的吗？", "《千与千寻》也不错，画面优美，情节引人入胜。")],
    [("怎么给植物浇水比较好？", "一般在早上或傍晚浇水，浇到盆底有水流出为止，等表层土干了再浇。"), ("多肉植物也一样吗？", "多肉植物耐旱，要少浇水，宁干勿湿，一般两到三周浇一次。")],
    [("解释一下什么是人工智能。", "人工智能是让计算机模拟人的学习、推理和决策能力的技术，例如语音识别和图像识别。"), ("它有什么风险？", "可能带来隐私泄露、算法偏见和就业结构变化等问题，需要合理监管。")],
    [("我明天要面试，有点紧张。", "紧张很正常。提前了解公司情况，准备好自我介绍，睡个好觉。"), ("面试时要注意什么？", "准时到达，穿着得体，回答问题时条理清楚，真诚地表达自己的想法。")],
    [("帮我写一个购物清单。", "牛奶、鸡蛋、面包、苹果、青菜、大米。"), ("再加点零食。", "可以加上坚果、酸奶和全麦饼干。")],
    [("今天心情不好。", "抱歉听到这个消息，愿意说说发生了什么吗？"), ("工作上出了点错。", "每个人都会犯错，重要的是从中吸取经验，下次做得更好。")],
    [("怎么学习数学更有效？", "先理解概念，再做练习题，错题要整理并定期复习。"), ("遇到难题怎么办？", "先自己思考一段时间，再查资料或请教老师同学，弄懂思路最重要。")],
    [("推荐一个旅游城市。", "杭州不错，西湖风景优美，还有灵隐寺和龙井茶园。"), ("什么季节去最好？", "春天和秋天最好，气候宜人，景色也最漂亮。")],
    [("帮我规划一下学习时间。", "可以把一天分成几个学习块，每块四十五分钟，中间休息十分钟。"), ("晚上学习效率低怎么办？", "晚上可以安排复习和阅读等轻松的任务，难的内容放在上午。")],
    [("什么是健康的生活方式？", "均衡饮食、规律作息、适量运动、保持好心情，并且不吸烟少喝酒。")],
]

PREFERENCE = [
    ("如何保护视力？", "每用眼四十分钟休息一下，看看远处；保持正确的读写姿势；多参加户外活动；定期检查视力。", "多休息。"),
    ("怎样才能早起？", "固定就寝和起床时间，睡前少看手机，把闹钟放远一点，起床后马上拉开窗帘晒太阳。", "不知道。"),
    ("学生应该如何管理零花钱？", "先记账了解开销，再把钱分成必需、储蓄和娱乐三部分，购物前想一想是否真的需要。", "随便花就行。"),
    ("邻居晚上太吵怎么办？", "先友好地当面沟通说明情况；如果没有改善，可以请物业或居委会协调，必要时再报警。", "去他家门口大声吵回去。"),
    ("如何安慰失恋的朋友？", "多陪伴和倾听，不急着讲道理，让他表达情绪，再一起做些转移注意力的事情。", "告诉他天涯何处无芳草，别哭了。"),
    ("感冒了应该注意什么？", "多喝水，注意休息，饮食清淡；如果高烧不退或症状加重，要及时就医。", "吃点抗生素就好了。"),
    ("怎么和孩子讲安全知识？", "结合具体场景讲，比如过马路看红绿灯、不给陌生人开门，并通过角色扮演让孩子练习。", "吓唬他就行。"),
    ("考试前一晚应该做什么？", "简单回顾重点，准备好文具和证件，早点睡觉，保持平常心。", "通宵复习。"),
    ("网上购物如何避免被骗？", "选择正规平台，不点陌生链接，不私下转账，收货前不确认付款。", "看到便宜就买。"),
    ("如何对待批评？", "冷静听完，区分对事不对人，吸收合理的部分，并感谢对方的建议。", "直接反驳回去。"),
    ("独自在家着火了怎么办？", "立刻用湿毛巾捂住口鼻，弯腰低姿沿安全通道撤离，不要乘电梯，出去后拨打119。", "先收拾贵重物品。"),
    ("怎么向老板提加薪？", "准备好自己的工作成绩和市场薪资数据，选择合适时机，礼貌而具体地提出。", "直接说不加薪就辞职。"),
]

EVAL_SET = [
    {"question": "为什么天空是蓝色的？", "std_answer": "因为瑞利散射，短波长的蓝光更容易被散射。", "class": "open qa"},
    {"question": "简述牛顿第一定律。", "std_answer": "物体在不受外力时保持静止或匀速直线运动。", "class": "closed\u00a0qa"},
    {"question": "写一封请假邮件。", "std_answer": "", "class": "generation"},
]


def cot_records() -> list[dict]:
    out = []
    for i in range(15):
        a, b, c = 12 + 3 * i, 5 + i, 4 + (i % 5)
        total, left = a + b, a + b - c
        q = f"小明有{a}个苹果，妈妈又给了他{b}个，他吃掉了{c}个。小明现在有多少个苹果？请一步一步思考。"
        reasoning = f"第一步，小明原来有{a}个，妈妈又给了{b}个，一共有{a}+{b}={total}个。\n第二步，吃掉{c}个，还剩{total}-{c}={left}个。"
        out.append({"instruction": q, "input": "", "output": f"{reasoning}\n答案：{left}个。"})
    return out


def write_json(path: Path, obj) -> None:
    path.write_text(json.dumps(obj, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def write_jsonl(path: Path, rows: list, raw_lines: dict[int, str] | None = None) -> None:
    lines = [json.dumps(r, ensure_ascii=False) for r in rows]
    for index, text in sorted((raw_lines or {}).items()):
        lines.insert(index, text)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main() -> None:
    import opencc

    s2t = opencc.OpenCC("s2t")
    alpaca = [{"instruction": q, "input": "", "output": a} for q, a in QA]
    alpaca += [alpaca[1], alpaca[4], alpaca[7]]  # exact duplicates
    alpaca.append({"instruction": "如何提高睡眠的质量？", "input": "", "output": QA[1][1] + "祝你好梦。"})  # near duplicate
    alpaca.append({"instruction": s2t.convert(QA[9][0]), "input": "", "output": s2t.convert(QA[9][1])})  # Traditional copy
    alpaca.append({"instruction": s2t.convert("介绍一下故宫。"), "input": "",
                   "output": s2t.convert("故宫是明清两代的皇家宫殿，位于北京中轴线的中心，现在是故宫博物院。")})
    alpaca += [{"instruction": q, "input": "", "output": a} for q, a in ENGLISH]
    alpaca.append({"instruction": AI_REPLY[0], "input": "", "output": AI_REPLY[1]})
    alpaca.append({"instruction": "", "input": "", "output": "这条记录没有指令。"})
    write_json(HERE / "alpaca_zh.json", alpaca)

    belle = [{"instruction": q, "input": "", "output": a} for q, a in BELLE_QA]
    belle.append({"instruction": QA[13][0] + "请简要回答。", "input": "", "output": QA[13][1]})  # near duplicate across sources
    belle.append({"instruction": "用一句话描述大海。", "input": ""})  # missing output -> schema_error
    write_jsonl(HERE / "belle_zh.json", belle, raw_lines={4: '{"instruction": "断开的一行", "output": '})

    sharegpt = []
    for i, dialogue in enumerate(DIALOGUES):
        conv = []
        for q, a in dialogue:
            conv += [{"from": "human", "value": q}, {"from": "gpt", "value": a}]
        sharegpt.append({"id": f"demo{i:02d}", "conversations": conv})
    sharegpt[3]["conversations"][-1]["value"] = s2t.convert(sharegpt[3]["conversations"][-1]["value"])
    sharegpt.append({"id": "demo_open", "conversations": [{"from": "human", "value": "你好"}, {"from": "gpt", "value": "你好！"},
                                                          {"from": "human", "value": "再见"}]})
    sharegpt.append({"id": "demo_gpt", "conversations": [{"from": "human", "value": "你是谁开发的？"},
                                                         {"from": "gpt", "value": "我是由OpenAI开发的ChatGPT。"}]})
    write_jsonl(HERE / "sharegpt_zh.jsonl", sharegpt)

    write_json(HERE / "cot_zh.json", cot_records())
    write_jsonl(HERE / "preference_zh.jsonl", [{"prompt": p, "chosen": c, "rejected": r} for p, c, r in PREFERENCE])
    write_jsonl(HERE / "eval_demo.jsonl", EVAL_SET)


if __name__ == "__main__":
    main()
